/**
 * `movingdata audit`: verify the audit trail's hash chain, and export it as JSON lines.
 * Exit codes: 0 intact (or exported), 1 a problem found (or the store failed), 2 usage.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { AuditTrail } from '../../audit/audit-trail.ts';
import { loadConfig } from '../../config/config.ts';
import { openMetadataStore, type MetadataStore } from '../../metadata/index.ts';
import { cliPrincipal } from '../cli-principal.ts';

const HELP = `usage: movingdata audit <verify|export> [options]

  audit verify [--json]
      Recompute every link of the hash chain. Exit 0 when intact, printing the head (seq and
      hash of the newest entry): keep it somewhere outside MovingData, since cutting off the
      newest entries leaves a shorter chain that is valid on its own, and only an earlier head
      shows it. Exit 1 with the first problem otherwise (edited, deleted_or_inserted, reordered).
  audit export [--after-seq N]
      Every entry as one JSON object per line on stdout, in seq order, streamed.
      Each line minus prev_hash and hash, canonicalised (RFC 8785), hashed after prev_hash
      with SHA-256, gives hash: any tool can re-check an export.

The metadata store comes from the environment (DATABASE_URL, or the embedded store under
MOVINGDATA_DATA_DIR, which only one process may open at a time).`;

function usageError(message: string): number {
  console.error(`movingdata audit: ${message}\n\n${HELP}`);
  return 2;
}

async function withStore<T>(work: (store: MetadataStore) => Promise<T>): Promise<T> {
  const store = await openMetadataStore(loadConfig(process.env).metadata);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Write with backpressure; resolves false once the reader has gone away (e.g. `| head`). */
async function writeLine(line: string): Promise<boolean> {
  if (process.stdout.destroyed || process.stdout.writableEnded) return false;
  if (process.stdout.write(line)) return true;
  const [event] = (await Promise.race([once(process.stdout, 'drain').then(() => ['drain']), once(process.stdout, 'close').then(() => ['close'])])) as [string];
  return event === 'drain';
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { json: { type: 'boolean' }, 'after-seq': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const [verb, ...rest] = positionals;
  if (values.help === true || verb === undefined) {
    console.log(HELP);
    return verb === undefined && values.help !== true ? 2 : 0;
  }
  if (rest.length > 0) return usageError(`unexpected argument '${rest[0] ?? ''}'`);

  switch (verb) {
    case 'verify': {
      const result = await withStore((store) => new AuditTrail(store.audit).verify());
      if (values.json === true) {
        console.log(JSON.stringify(result));
      } else if (result.ok) {
        console.log(result.head === null ? 'audit trail intact: empty' : `audit trail intact: ${result.entries} entries; head seq ${result.head.seq} hash ${result.head.hash}`);
      } else {
        const intact = result.head === null ? 'no entry before it is intact' : `entries 1 to ${result.head.seq} are intact (head hash ${result.head.hash})`;
        console.error(`audit trail broken at seq ${result.problem?.seq ?? '?'} (${result.problem?.kind ?? 'unknown'}): ${result.problem?.message ?? ''}; ${intact}`);
      }
      return result.ok ? 0 : 1;
    }
    case 'export': {
      const raw = values['after-seq'];
      const afterSeq = raw === undefined ? 0 : Number(raw);
      if (!/^\d+$/.test(raw ?? '0') || !Number.isSafeInteger(afterSeq)) return usageError('--after-seq takes a non-negative integer');
      // A reader that goes away (`| head`) ends the export quietly instead of crashing on EPIPE.
      const ignore = (): void => undefined;
      process.stdout.on('error', ignore);
      try {
        await withStore(async (store) => {
          const trail = new AuditTrail(store.audit);
          // Exporting reveals every entry, so it is recorded, as over HTTP.
          await trail.exported({ principal: cliPrincipal(), afterSeq });
          for await (const record of trail.export({ afterSeq })) {
            if (!(await writeLine(`${JSON.stringify(record)}\n`))) break;
          }
        });
      } finally {
        process.stdout.off('error', ignore);
      }
      return 0;
    }
    default:
      return usageError(`unknown subcommand '${verb}'`);
  }
}

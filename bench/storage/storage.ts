/**
 * Storage throughput: put and get through each adapter on the lab, beside rclone moving the
 * same bytes (the same files on disk) to the same server, each side in its own process.
 *
 * Cases: 200 files of 1 MiB (4 at a time on both sides: rclone's default --transfers) and one
 * 512 MiB file (multipart / block / resumable). Throughput uses each side's own transfer time
 * (ours: from opening the store, SDK loading included, to the last byte; rclone: its reported
 * elapsedTime), so process start-up is not counted for either. Peak RSS is the whole process's.
 *
 * Every measurement runs several times (MOVINGDATA_BENCH_RUNS, default 3; 1 in --quick), ours
 * and rclone's taking turns, each run on fresh keys; the table shows the medians. What a run
 * wrote is deleted before the next (fake-gcs-server keeps objects in memory and slows down as
 * they pile up). MOVINGDATA_BENCH_ADAPTERS=s3,gcs limits the adapters. Our workers run with a
 * Node compile cache (NODE_COMPILE_CACHE), warmed before measuring: as a deployed service would,
 * they then skip re-compiling and type-stripping the SDKs and our sources on every start. And
 * with the flags `movingdata` runs with (NODE_FLAGS in bench/lib/process.ts).
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.ts';
import type { StoreConfig } from '../../src/storage/factory.ts';
import { mibPerSecond, runMeasured, NODE_FLAGS } from '../lib/process.ts';
import { rcloneElapsed, rcloneEnv, rcloneRemotes } from '../lib/rclone.ts';
import { writeSource, type BenchCase } from '../lib/source.ts';

const MiB = 1024 * 1024;
const WORKER = join(import.meta.dirname, 'worker.ts');
const BUCKET = 'mdbench';
/** rclone 1.60's --multi-thread-cutoff: larger files are downloaded in --multi-thread-streams (4). */
const RCLONE_MULTI_THREAD_CUTOFF = 256 * MiB;

export type StorageCase = BenchCase;

export const FULL_CASES: readonly StorageCase[] = [
  { name: '1MiBx200', files: 200, bytesEach: MiB, concurrency: 4, runs: 3 },
  { name: '512MiBx1', files: 1, bytesEach: 512 * MiB, concurrency: 1, runs: 3 },
];

export const QUICK_CASES: readonly StorageCase[] = [
  { name: '1MiBx20', files: 20, bytesEach: MiB, concurrency: 4, runs: 1 },
  { name: '64MiBx1', files: 1, bytesEach: 64 * MiB, concurrency: 1, runs: 1 },
];

export interface StorageRow {
  readonly adapter: string;
  readonly case: string;
  readonly op: 'put' | 'get';
  readonly bytes: number;
  /** Medians over `runs`. */
  readonly oursMiBs: number;
  readonly rcloneMiBs: number;
  /** ours / rclone throughput: above 1 means we are faster. */
  readonly ratio: number;
  readonly oursRssMiB: number;
  readonly rcloneRssMiB: number;
  readonly runs: number;
  /** Every run's figure, in order. */
  readonly samples: { readonly oursMiBs: number[]; readonly rcloneMiBs: number[] };
  /** Where our memory went (medians, MiB): RSS with the store open before any transfer, and peaks. */
  readonly oursMemory: { readonly openRss: number; readonly heapUsed: number; readonly external: number; readonly arrayBuffers: number };
  /** Median seconds our side spent opening the store (loading the SDK included), within its time. */
  readonly oursOpenSeconds: number;
  /** A gap explained by a deliberate choice, measured where it can be. */
  readonly note?: string;
}

interface WorkerResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly openSeconds: number;
  readonly maxRssMiB: number;
  readonly openRssMiB: number;
  readonly peak: { readonly heapUsed: number; readonly heapTotal: number; readonly external: number; readonly arrayBuffers: number };
}

type OursSample = WorkerResult & { readonly rss: number };

interface Sample {
  readonly seconds: number;
  readonly rss: number;
}

type Adapter = 's3' | 'azure' | 'gcs' | 'local';

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

/** The lab's store settings, as the product itself reads them (no SSE-KMS: rclone stores without it). */
function storeConfigs(lab: Readonly<Record<string, string>>, localRoot: string): Record<Adapter, StoreConfig> {
  const { S3_SSE_KMS_KEY_ID: _sse, ...plain } = lab;
  const config = loadConfig({ ...plain, S3_SSE_KMS_KEY_ID: 'none', S3_BUCKET: BUCKET, AZURE_CONTAINER: BUCKET, GCS_BUCKET: BUCKET, MOVINGDATA_DATA_DIR: join(localRoot, '..') });
  const [s3, azure, gcs] = config.locations.map((l) => ({ ...l.store, location: 'bench' })) as [StoreConfig, StoreConfig, StoreConfig];
  return { s3, azure, gcs, local: { provider: 'local', location: 'bench', container: BUCKET, root: localRoot } };
}

export async function runStorageBench(lab: Readonly<Record<string, string>>, workDir: string, cases: readonly StorageCase[], log: (line: string) => void): Promise<StorageRow[]> {
  const localRoot = join(workDir, 'ours-local', BUCKET);
  const stores = storeConfigs(lab, localRoot);
  const remotes = rcloneRemotes(lab);
  const rcloneLocal = join(workDir, 'rclone-local');
  const targets: Array<{ id: Adapter; adapter: string; remote: string; env: Record<string, string> }> = [
    { id: 's3', adapter: 's3 (MinIO)', remote: `${remotes.s3.name}:${BUCKET}/`, env: remotes.s3.env },
    { id: 'azure', adapter: 'azure (Azurite)', remote: `${remotes.azure.name}:${BUCKET}/`, env: remotes.azure.env },
    { id: 'gcs', adapter: 'gcs (fake-gcs-server)', remote: `${remotes.gcs.name}:${BUCKET}/`, env: remotes.gcs.env },
    { id: 'local', adapter: 'local disk', remote: `${rcloneLocal}/`, env: {} },
  ];
  const only = process.env['MOVINGDATA_BENCH_ADAPTERS']?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of only ?? []) if (!targets.some((t) => t.id === name)) throw new Error(`MOVINGDATA_BENCH_ADAPTERS: unknown adapter '${name}'; adapters: ${targets.map((t) => t.id).join(', ')}`);
  const chosen = targets.filter((t) => only === undefined || only.includes(t.id));

  const workerEnv: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: join(workDir, 'node-compile-cache') };
  const worker = async (store: StoreConfig, op: 'put' | 'get' | 'open', dir: string, prefix: string, names: readonly string[], concurrency: number, unsynced = false): Promise<OursSample> => {
    const measured = await runMeasured(process.execPath, [...NODE_FLAGS, WORKER, JSON.stringify({ store, op, dir, prefix, names, concurrency, unsynced })], workerEnv);
    const result = JSON.parse(measured.stdout.trim().split('\n').pop() ?? '{}') as WorkerResult;
    return { ...result, rss: measured.maxRssMiB };
  };
  const rclone = async (env: Record<string, string>, args: readonly string[]) => runMeasured('rclone', [...args, '--use-json-log', '-v', '--stats', '1h'], rcloneEnv(env));
  const rcloneCopy = async (env: Record<string, string>, source: string, destination: string, transfers: number, extra: readonly string[] = []): Promise<Sample> => {
    const measured = await rclone(env, ['copy', source, destination, '--transfers', String(transfers), ...extra]);
    return { seconds: rcloneElapsed(measured.stderr), rss: measured.maxRssMiB };
  };

  // Fills the compile cache (and starts each server's connection handling) before measuring.
  for (const target of chosen) await worker(stores[target.id], 'open', workDir, '', [], 1);

  const rows: StorageRow[] = [];
  const runId = Date.now().toString(36);
  for (const c of cases) {
    const runs = positiveInteger('MOVINGDATA_BENCH_RUNS', c.runs);
    const source = join(workDir, 'source', c.name);
    log(`preparing ${c.files} × ${c.bytesEach / MiB} MiB in ${source}; ${runs} run(s) per measurement, medians reported`);
    const names = await writeSource(source, c);
    const bytes = c.files * c.bytesEach;
    for (const target of chosen) {
      const store = stores[target.id];
      const samples = { put: { ours: [] as OursSample[], rclone: [] as Sample[] }, get: { ours: [] as OursSample[], rclone: [] as Sample[] } };
      const unsynced: number[] = [];
      const singleStream: number[] = [];
      for (let run = 1; run <= runs; run++) {
        const base = `${runId}/${c.name}/${run}/`;
        const oursPrefix = `${base}ours/`;
        const rclonePath = `${target.remote}${base}rclone/`;
        log(`${target.adapter} ${c.name} run ${run}/${runs}: put`);
        // Local disk: the same put without fsync too, to show what durability costs (rclone does
        // not fsync); the two take turns going first, since the disk's writeback of the earlier
        // one slows the later one.
        const unsyncedFirst = target.id === 'local' && run % 2 === 0;
        if (unsyncedFirst) unsynced.push(mibPerSecond(bytes, (await worker(store, 'put', source, `${base}unsynced/`, names, c.concurrency, true)).seconds));
        samples.put.ours.push(await worker(store, 'put', source, oursPrefix, names, c.concurrency));
        if (target.id === 'local' && !unsyncedFirst) unsynced.push(mibPerSecond(bytes, (await worker(store, 'put', source, `${base}unsynced/`, names, c.concurrency, true)).seconds));
        samples.put.rclone.push(await rcloneCopy(target.env, source, rclonePath, c.concurrency));
        log(`${target.adapter} ${c.name} run ${run}/${runs}: get`);
        const oursOut = join(workDir, 'out', 'ours');
        const rcloneOut = join(workDir, 'out', 'rclone');
        await mkdir(oursOut, { recursive: true });
        await mkdir(rcloneOut, { recursive: true });
        samples.get.ours.push(await worker(store, 'get', oursOut, oursPrefix, names, c.concurrency));
        samples.get.rclone.push(await rcloneCopy(target.env, rclonePath, rcloneOut, c.concurrency));
        if (target.id !== 'local' && c.bytesEach > RCLONE_MULTI_THREAD_CUTOFF) {
          // rclone reads a file this large to local disk in parallel ranged streams; ours is one
          // ordered stream. The same get with one stream, for the note.
          const single = join(workDir, 'out', 'rclone-single');
          const sample = await rcloneCopy(target.env, rclonePath, single, c.concurrency, ['--multi-thread-streams', '0']);
          singleStream.push(mibPerSecond(bytes, sample.seconds));
        }
        for (const [who, dir] of [
          ['ours', oursOut],
          ['rclone', rcloneOut],
        ] as const) {
          const got = await dirBytes(dir);
          if (got !== bytes) throw new Error(`${target.adapter} ${c.name}: ${who} got ${got} bytes back, expected ${bytes}`);
        }
        await rm(join(workDir, 'out'), { recursive: true, force: true });
        // What this run wrote goes before the next run.
        if (target.id === 'local') {
          await rm(localRoot, { recursive: true, force: true });
          await rm(rcloneLocal, { recursive: true, force: true });
        } else {
          await rclone(target.env, ['purge', `${target.remote}${base}`]);
        }
      }
      for (const op of ['put', 'get'] as const) {
        const ours = samples[op].ours.map((r) => mibPerSecond(bytes, r.seconds));
        const theirs = samples[op].rclone.map((r) => mibPerSecond(bytes, r.seconds));
        const oursMiBs = median(ours);
        const rcloneMiBs = median(theirs);
        const note =
          target.id === 'local' && op === 'put'
            ? fsyncNote(oursMiBs, unsynced, rcloneMiBs)
            : op === 'get' && singleStream.length > 0
              ? singleStreamNote(oursMiBs, singleStream)
              : undefined;
        rows.push({
          adapter: target.adapter,
          case: c.name,
          op,
          bytes,
          oursMiBs,
          rcloneMiBs,
          ratio: oursMiBs / rcloneMiBs,
          oursRssMiB: median(samples[op].ours.map((r) => r.rss)),
          rcloneRssMiB: median(samples[op].rclone.map((r) => r.rss)),
          runs,
          samples: { oursMiBs: ours, rcloneMiBs: theirs },
          oursOpenSeconds: median(samples[op].ours.map((r) => r.openSeconds)),
          oursMemory: {
            openRss: median(samples[op].ours.map((r) => r.openRssMiB)),
            heapUsed: median(samples[op].ours.map((r) => r.peak.heapUsed)),
            external: median(samples[op].ours.map((r) => r.peak.external)),
            arrayBuffers: median(samples[op].ours.map((r) => r.peak.arrayBuffers)),
          },
          ...(note === undefined ? {} : { note }),
        });
      }
    }
    await rm(source, { recursive: true, force: true });
  }
  logMemory(rows, log);
  for (const row of rows) if (row.note !== undefined) log(`note: ${row.adapter} ${row.case} ${row.op}: ${row.note}`);
  return rows;
}

function singleStreamNote(oursMiBs: number, single: readonly number[]): string {
  const one = median(single);
  return `rclone reads files over 256 MiB to local disk in 4 parallel ranged streams (--multi-thread-streams), ours is one ordered stream; rclone with one stream ran at ${one.toFixed(0)} MiB/s (ratio ${(oursMiBs / one).toFixed(2)})`;
}

function fsyncNote(oursMiBs: number, unsynced: readonly number[], rcloneMiBs: number): string {
  const without = median(unsynced);
  return (
    `ours fsyncs every object before it becomes visible, rclone does not; without fsync ours ran at ${without.toFixed(0)} MiB/s (ratio ${(without / rcloneMiBs).toFixed(2)}), with it ${oursMiBs.toFixed(0)}. ` +
    'Ours also computes the SHA-256 it reports for every object (rclone writes none), on the event loop thread'
  );
}

/** Per adapter: time to open the store, RSS with it open (Node + SDK + client), what transfers added at peak. */
function logMemory(rows: readonly StorageRow[], log: (line: string) => void): void {
  for (const row of rows) {
    const m = row.oursMemory;
    log(
      `${row.adapter} ${row.case} ${row.op}: opening the store took ${(row.oursOpenSeconds * 1000).toFixed(0)} ms; RSS ${row.oursRssMiB.toFixed(0)} MiB = ${m.openRss.toFixed(0)} with the store open + ${(row.oursRssMiB - m.openRss).toFixed(0)} while moving; peaks: JS heap ${m.heapUsed.toFixed(0)}, external ${m.external.toFixed(0)} (ArrayBuffers ${m.arrayBuffers.toFixed(0)})`,
    );
  }
}

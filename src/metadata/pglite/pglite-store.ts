/**
 * Embedded metadata store: PostgreSQL compiled to WASM (PGlite), in a directory on disk, so
 * `npm start` needs no database server. Same schema, migrations and queries as the PostgreSQL
 * adapter (src/metadata/sql/); only the connection differs. One process per directory (see
 * dir-lock.ts); to share metadata between processes, use PostgreSQL.
 *
 * `{ inMemory: true }` keeps everything in memory, for unit tests that need a store and not
 * the disk.
 */
import { PGlite, types } from '@electric-sql/pglite';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Kysely, PGliteDialect } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import type { MetadataStore } from '../port.ts';
import { mapDatabaseError } from '../sql/errors.ts';
import { migrateToLatest } from '../sql/migrate.ts';
import type { Database } from '../sql/schema.ts';
import { createSqlStore } from '../sql/store.ts';
import { lockDirectory } from './dir-lock.ts';

/**
 * PostgreSQL settings for the embedded instance. PGlite starts with the server defaults
 * (shared_buffers = 128MB) inside the process's WASM memory, which never shrinks: the control
 * plane then sat at 393 MiB resident at rest. With 16MB it sits at 243 MiB (measured on a
 * restart over the same data directory); one process and one connection use a small cache
 * well, and the OS page cache still holds the data files.
 */
const EMBEDDED_POSTGRES_CONF = ['shared_buffers = 16MB'];

/**
 * A new data directory is initialised (initdb) in a short-lived child process. initdb in WASM
 * peaks near 1.1 GiB resident and leaves ~300 MiB of garbage behind that an idle server may hold
 * until its next full GC (measured: a first start at rest 635 MiB, 343 after a forced GC); in a
 * child, all of it goes back to the system when the child exits.
 */
async function initialiseCluster(dir: string): Promise<void> {
  const exists = await access(join(dir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (exists) return;
  // One line on failure: PGlite's errors from its WASM file system are objects like
  // { name: 'ErrnoError', errno: 54 } with no message.
  const script = `const { PGlite } = await import(${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))});
try {
  const pglite = new PGlite(process.argv[1]);
  await pglite.waitReady;
  await pglite.close();
} catch (error) {
  process.stderr.write(error instanceof Error && error.message ? error.message : JSON.stringify(error) ?? String(error));
  process.exit(1);
}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`initdb ${code === null ? `killed by ${signal}` : `exited with ${code}`}: ${stderr.trim() || 'no output'}`);
}

export type PgliteStoreOptions = { readonly dir: string } | { readonly inMemory: true };

export async function openPgliteStore(options: PgliteStoreOptions): Promise<MetadataStore> {
  const dir = 'dir' in options ? resolve(options.dir) : undefined;
  if (dir !== undefined) await mkdir(dir, { recursive: true });
  const release = dir === undefined ? async () => undefined : await lockDirectory(dir);

  let pglite: PGlite | undefined;
  let db: Kysely<Database> | undefined;
  try {
    if (dir !== undefined) await initialiseCluster(dir);
    pglite = new PGlite(dir, {
      // PGlite parses int8 into a JS number and silently rounds above 2^53; keep the text so
      // sql/rows.ts can convert exactly or refuse, as it does for pg.
      parsers: { [types.INT8]: (text: string) => text },
      postgresqlconf: EMBEDDED_POSTGRES_CONF,
    });
    await pglite.waitReady;
    db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    await migrateToLatest(db, 'public');
  } catch (err) {
    await db?.destroy().catch(() => undefined);
    if (pglite && !pglite.closed) await pglite.close().catch(() => undefined);
    await release();
    const mapped = mapDatabaseError(err, 'open');
    throw mapped.code === 'internal'
      ? new MovingDataError('unavailable', `cannot open embedded metadata store${dir === undefined ? '' : ` in ${dir}`}: ${mapped.message}`, { retryable: false, cause: err })
      : mapped;
  }

  const instance = pglite;
  return createSqlStore({
    kind: 'pglite',
    // One connection, one process; SKIP LOCKED still works, so a job queue built on it runs
    // unchanged (with a single worker process).
    features: { multiProcess: false, skipLocked: true },
    db,
    afterClose: async () => {
      try {
        if (!instance.closed) await instance.close();
      } finally {
        await release();
      }
    },
  });
}

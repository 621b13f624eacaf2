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
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
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

export type PgliteStoreOptions = { readonly dir: string } | { readonly inMemory: true };

export async function openPgliteStore(options: PgliteStoreOptions): Promise<MetadataStore> {
  const dir = 'dir' in options ? resolve(options.dir) : undefined;
  if (dir !== undefined) await mkdir(dir, { recursive: true });
  const release = dir === undefined ? async () => undefined : await lockDirectory(dir);

  let pglite: PGlite | undefined;
  let db: Kysely<Database> | undefined;
  try {
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

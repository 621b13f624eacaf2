/**
 * Metadata on a PostgreSQL server through node-postgres (`pg.Pool`): the scale-out adapter,
 * shared by many worker processes. Same schema, migrations and queries as the embedded
 * adapter (src/metadata/sql/); only the connection differs.
 *
 * `schema` (default `public`) holds every table; it is created if missing and pinned as the
 * connection's search_path, so several stores (tests running in parallel, environments) can
 * share one database without seeing each other.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { MovingDataError } from '../../errors.ts';
import type { MetadataStore } from '../port.ts';
import { mapDatabaseError } from '../sql/errors.ts';
import { migrateToLatest } from '../sql/migrate.ts';
import type { Database } from '../sql/schema.ts';
import { createSqlStore } from '../sql/store.ts';
import { prepareRepeatedStatements } from './prepared.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  readonly url: string;
  /** Lowercase identifier; created if missing. Default `public`. */
  readonly schema?: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const INT8_OID = 20;

/**
 * node-postgres already returns int8 as text; pinning it per pool keeps that true even if some
 * other module changes pg's process-wide parsers (sql/rows.ts converts it exactly).
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (text: string) => unknown {
    if (oid === INT8_OID && format !== 'binary') return (text) => text;
    return pg.types.getTypeParser(oid, format) as (text: string) => unknown;
  },
};

export async function openPostgresStore(options: PostgresStoreOptions): Promise<MetadataStore> {
  const schema = options.schema ?? 'public';
  if (!SCHEMA_NAME.test(schema)) {
    throw new MovingDataError('invalid_argument', `schema must be a lowercase SQL identifier, got ${JSON.stringify(schema)}`, { retryable: false });
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    application_name: 'movingdata',
    connectionTimeoutMillis: 10_000,
    // Every connection resolves unqualified names in our schema only.
    options: `-c search_path=${schema}`,
    types: TYPES,
  });
  // An idle connection dropped by the server must not crash the process; the next query
  // through the pool reports `unavailable` instead.
  pool.on('error', () => undefined);
  prepareRepeatedStatements(pool);

  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await ensureSchema(pool, schema);
    await migrateToLatest(db, schema);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw mapDatabaseError(err, 'open');
  }
  return createSqlStore({ kind: 'postgres', features: { multiProcess: true, skipLocked: true }, db });
}

async function ensureSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`create schema if not exists "${schema}"`);
  } catch (err) {
    // Two processes creating it at once: one of them gets a duplicate error, which is fine.
    const code = (err as { code?: unknown }).code;
    if (code !== '42P06' && code !== '23505') throw err;
  }
}

/**
 * Brings a database to the latest schema at start-up with Kysely's Migrator and the static
 * migration list. The Migrator serialises concurrent starters (a PostgreSQL advisory lock;
 * PGlite has a single connection anyway), runs each migration in a transaction, and skips
 * what is already applied, so re-opening a store is a no-op.
 */
import { sql, type Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { MovingDataError } from '../../errors.ts';
import { MIGRATIONS, migrationProvider } from '../migrations/index.ts';
import { mapDatabaseError } from './errors.ts';
import type { Database } from './schema.ts';

/** `schema` holds the application tables and Kysely's bookkeeping tables alike. */
export async function migrateToLatest(db: Kysely<Database>, schema: string): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableSchema: schema });
  let outcome = await migrator.migrateToLatest();
  // Kysely's Migrator looks for its lock table by listing the tables of every schema in the
  // database; a schema another tenant drops meanwhile fails that listing with 3F000 naming the
  // other schema. Nothing of ours was touched, so list again.
  for (let attempt = 1; attempt < 5 && otherSchemaVanished(outcome.error, schema); attempt++) {
    outcome = await migrator.migrateToLatest();
  }
  const { error, results } = outcome;
  if (error === undefined) return;
  const failed = results?.find((r) => r.status === 'Error')?.migrationName;
  const known = new Set(Object.keys(MIGRATIONS));
  const applied = await sql<{ name: string }>`select name from ${sql.table(`${schema}.kysely_migration`)}`.execute(db).then(
    (r) => r.rows.map((row) => row.name),
    () => [],
  );
  const unknown = applied.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    // A newer MovingData migrated this database; running older code on it would corrupt it.
    throw new MovingDataError('unsupported', `metadata schema is newer than this MovingData (unknown migrations: ${unknown.join(', ')}); upgrade MovingData`, {
      retryable: false,
      cause: error,
      details: { unknown },
    });
  }
  const mapped = mapDatabaseError(error, failed === undefined ? 'migrate' : `migration ${failed}`);
  throw mapped;
}

/** The error is PostgreSQL's "schema does not exist" (3F000) about a schema other than `ours`. */
function otherSchemaVanished(error: unknown, ours: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code !== '3F000' || typeof message !== 'string') return false;
  const named = /schema "([^"]+)" does not exist/.exec(message)?.[1];
  return named !== undefined && named !== ours;
}

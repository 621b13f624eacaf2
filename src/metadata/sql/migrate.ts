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
  const { error, results } = await migrator.migrateToLatest();
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

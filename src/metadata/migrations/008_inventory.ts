/**
 * The dashboard's inventory (issue 16): sorting by size and by last change, and a file's audit
 * entries, stay index-backed at 100k+ files.
 *
 * - `files.current_size`: the plaintext size of the file's current (highest committed) version,
 *   kept with `current_version` by the store (sql/store.ts), so a listing sorted by size walks
 *   an index instead of joining and sorting every version. Null while nothing is committed.
 * - `files_live_size_idx`, `files_live_updated_idx`: keyset order (value, id) of live files.
 * - `audit_log_object_idx`: one key's entries, newest first (the file detail's audit trail).
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  sql`alter table files add column current_size bigint check (current_size >= 0)`,
  sql`update files f set current_size = v.size from file_versions v where v.file_id = f.id and v.version = f.current_version`,
  sql`create index files_live_size_idx on files (current_size, id) where deleted_at is null and current_size is not null`,
  sql`create index files_live_updated_idx on files (updated_at, id) where deleted_at is null`,
  sql`create index audit_log_object_idx on audit_log (object_key, seq) where object_key is not null`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists audit_log_object_idx`.execute(db);
  await sql`drop index if exists files_live_updated_idx`.execute(db);
  await sql`drop index if exists files_live_size_idx`.execute(db);
  await sql`alter table files drop column if exists current_size`.execute(db);
}

/**
 * The consistency manager's last drift scan per location (see `ConsistencyReports` in
 * ../port.ts): one row per location, replaced by each scan, so /consistency/status is one
 * small read whatever the number of objects. `last_clean_at` is the last scan that found the
 * location fully in sync ("last successful sync"); a scan with drift keeps the earlier value.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table consistency_reports (
    location text collate "C" primary key check (length(location) between 1 and 64),
    report jsonb not null check (jsonb_typeof(report) = 'object'),
    finished_at timestamptz(3) not null default now(),
    last_clean_at timestamptz(3)
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists consistency_reports`.execute(db);
}

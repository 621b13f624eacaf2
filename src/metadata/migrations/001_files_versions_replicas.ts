/**
 * Files, their versions and one replica per (version, location).
 *
 * Written as plain PostgreSQL, one statement per call (PGlite's extended protocol runs one
 * statement at a time), and identical on PGlite and PostgreSQL. Later capabilities (policies,
 * decisions, access events, alerts, audit, jobs) come as later migrations: nothing here needs
 * to change for them.
 *
 * Choices that matter:
 * - Keys are `collate "C"`: ordering is by UTF-8 bytes whatever the server's locale, which is
 *   the order S3, GCS and Azure list in (a drift scan merge-joins the two listings), and the
 *   btree then also serves `LIKE 'prefix%'`.
 * - `timestamptz(3)`: the database keeps exactly what a JS Date can hold, so a value read back
 *   equals the stored one on every driver.
 * - `files.last_version` is the per-file version counter: `UPDATE ... SET last_version =
 *   last_version + 1 RETURNING` takes the row lock, so concurrent writers get distinct numbers
 *   without a `max()+1` race or a sequence per file.
 * - The key is unique among live files only (partial index), so a soft-deleted file keeps its
 *   history while its key is reused.
 * - JSON columns are jsonb and must be objects, so they never come back as scalars.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  sql`create table files (
    id bigint generated always as identity primary key,
    key text collate "C" not null check (octet_length(key) between 1 and 1024),
    content_type text,
    current_version integer,
    last_version integer not null default 0 check (last_version >= 0),
    created_at timestamptz(3) not null default now(),
    updated_at timestamptz(3) not null default now(),
    deleted_at timestamptz(3),
    check (current_version is null or (current_version between 1 and last_version))
  )`,
  // Unique key among live files; also serves lookups by key.
  sql`create unique index files_live_key_uq on files (key) where deleted_at is null`,
  // Inventory order (key, id): live files have unique keys, deleted ones need the id tie-break.
  sql`create index files_key_id_idx on files (key, id)`,

  sql`create table file_versions (
    file_id bigint not null references files (id) on delete cascade,
    version integer not null check (version > 0),
    state text not null check (state in ('pending', 'committed', 'failed', 'deleted')),
    size bigint check (size >= 0),
    sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
    encryption jsonb not null check (jsonb_typeof(encryption) = 'object'),
    metadata jsonb not null default '{}' check (jsonb_typeof(metadata) = 'object'),
    written_by text,
    created_at timestamptz(3) not null default now(),
    updated_at timestamptz(3) not null default now(),
    primary key (file_id, version),
    check (state <> 'committed' or (size is not null and sha256 is not null))
  )`,

  sql`create table replicas (
    id bigint generated always as identity primary key,
    file_id bigint not null,
    version integer not null,
    location text collate "C" not null check (length(location) between 1 and 256),
    object_key text collate "C" not null check (octet_length(object_key) between 1 and 1024),
    state text not null check (state in ('pending', 'writing', 'verified', 'failed', 'deleted')),
    stored_size bigint check (stored_size >= 0),
    checksums jsonb not null default '{}' check (jsonb_typeof(checksums) = 'object'),
    tier text,
    encryption jsonb check (encryption is null or jsonb_typeof(encryption) = 'object'),
    attempts integer not null default 0 check (attempts >= 0),
    last_error text,
    verified_at timestamptz(3),
    created_at timestamptz(3) not null default now(),
    updated_at timestamptz(3) not null default now(),
    foreign key (file_id, version) references file_versions (file_id, version) on delete cascade,
    -- One replica per (version, location); also serves "replicas of a file / of a version"
    -- and the inventory's "has a replica at L in state S" probe.
    constraint replicas_version_location_uq unique (file_id, version, location)
  )`,
  // Drift scan: a location's replicas in object-key byte order, keyset-paginated on (key, id).
  sql`create index replicas_location_object_key_idx on replicas (location, object_key, id)`,
  // Work finders (repair, retries, job planners) look for replicas that are not settled.
  sql`create index replicas_unsettled_idx on replicas (state, updated_at) where state in ('pending', 'writing', 'failed')`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists replicas`.execute(db);
  await sql`drop table if exists file_versions`.execute(db);
  await sql`drop table if exists files`.execute(db);
}

/**
 * Principals (API tokens with roles) and the hash-chained audit log.
 *
 * Same rules as 001: plain PostgreSQL, one statement per call, identical on PGlite and
 * PostgreSQL.
 *
 * Choices that matter:
 * - `principals.name` is unique forever (not only among live principals): audit entries name
 *   principals, and a name reused after a revocation would make them ambiguous.
 * - Only the token's SHA-256 is kept; it is unique, which also serves the per-request lookup.
 * - `audit_log.seq` is not an identity column: sequences leave gaps when a transaction rolls
 *   back, and a gap must mean a deleted entry. The appender assigns max(seq)+1 while holding
 *   the log's advisory lock (see sql/audit.ts).
 * - The hash is computed by the application (src/metadata/audit-chain.ts), not in SQL, so that
 *   every adapter, and an export checked outside MovingData, agree on one definition.
 * - A trigger refuses UPDATE, DELETE and TRUNCATE on the log. It stops accidents and the
 *   application's own bugs; an owner of the table can still disable it, which is what the
 *   hash chain is for.
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  sql`create table principals (
    id bigint generated always as identity primary key,
    name text collate "C" not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    roles jsonb not null default '[]' check (jsonb_typeof(roles) = 'array'),
    token_hash text not null check (token_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz(3) not null default now(),
    revoked_at timestamptz(3),
    last_used_at timestamptz(3),
    constraint principals_name_uq unique (name),
    constraint principals_token_hash_uq unique (token_hash)
  )`,

  sql`create table audit_log (
    seq bigint primary key check (seq > 0),
    at timestamptz(3) not null,
    principal text not null,
    action text not null,
    location text,
    object_key text,
    key_id text,
    sha256 text,
    outcome text not null,
    details jsonb not null default '{}' check (jsonb_typeof(details) = 'object'),
    prev_hash text not null,
    hash text not null
  )`,

  sql`create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only: % refused', tg_op;
    end
  $$`,
  sql`create trigger audit_log_no_rewrite before update or delete on audit_log for each row execute function audit_log_append_only()`,
  sql`create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_append_only()`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists audit_log`.execute(db);
  await sql`drop function if exists audit_log_append_only()`.execute(db);
  await sql`drop table if exists principals`.execute(db);
}

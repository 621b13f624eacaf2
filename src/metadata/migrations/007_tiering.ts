/**
 * Predictive tiering: the models, the decisions, the user pins.
 *
 * - `tier_models`: every trained model, versioned (the identity), with its metrics on the
 *   held-out split and what it was trained on; the newest is the one in use.
 * - `tier_decisions`: one row per recommendation the tiering run acted on (or, in a dry run,
 *   would have): inputs (features), proposal and confidence, every rule's verdict, the
 *   expected saving and the move's cost, and what became of it (`dry_run`, `queued`, `applied`,
 *   `failed`) with its job. A file's last `applied` decision at a location is when it entered
 *   its tier (the rules' days-in-tier).
 * - `tier_pins`: a user's tier for every key under a prefix, at one location or at all (`*`).
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  sql`create table tier_models (
    version integer generated always as identity primary key,
    kind text not null check (kind in ('gbdt', 'centroid')),
    trained_on text not null,
    records integer not null check (records >= 0),
    metrics jsonb not null check (jsonb_typeof(metrics) = 'object'),
    model jsonb not null check (jsonb_typeof(model) = 'object'),
    created_by text not null,
    created_at timestamptz(3) not null default now()
  )`,
  sql`create table tier_decisions (
    id bigint generated always as identity primary key,
    run_id text not null,
    location text collate "C" not null,
    object_key text collate "C" not null,
    file_id bigint not null,
    version integer not null,
    kind text not null check (kind in ('tier', 'move')),
    from_tier text not null,
    to_tier text not null,
    to_location text collate "C" not null,
    proposed text not null,
    confidence double precision not null,
    model_version integer,
    inputs jsonb not null,
    rules jsonb not null,
    expected_monthly_saving double precision not null,
    move_cost double precision not null,
    state text not null check (state in ('dry_run', 'queued', 'applied', 'failed')),
    job_id text,
    error text,
    created_by text not null,
    created_at timestamptz(3) not null default now(),
    updated_at timestamptz(3) not null default now()
  )`,
  sql`create index tier_decisions_file_idx on tier_decisions (location, object_key, id)`,
  sql`create index tier_decisions_applied_idx on tier_decisions (to_location, object_key, updated_at) where state = 'applied'`,
  sql`create table tier_pins (
    location text collate "C" not null,
    prefix text collate "C" not null check (octet_length(prefix) <= 1024),
    tier text not null check (tier in ('hot', 'cool', 'cold', 'archive')),
    created_by text not null,
    created_at timestamptz(3) not null default now(),
    primary key (location, prefix)
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists tier_pins`.execute(db);
  await sql`drop table if exists tier_decisions`.execute(db);
  await sql`drop table if exists tier_models`.execute(db);
}

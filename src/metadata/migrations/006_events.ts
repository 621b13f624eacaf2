/**
 * The event-driven half: the transactional outbox, the embedded event log (the bus when no
 * Kafka is configured), per-file access statistics, alerts and scored sensor readings.
 *
 * - `outbox`: access events appended in the same transaction as the audit entry or metadata
 *   change they report. `shard` is the key's hash mod the shard count, the relays' unit of
 *   work: a relay leases a shard (a row of `outbox_shards`, claimed with `FOR UPDATE SKIP
 *   LOCKED`), ships that shard's rows in id order, marks them sent and releases it, so the order
 *   per key holds with several relays; a dead relay's lease runs out and another takes over.
 * - `bus_*`: the embedded bus, Kafka's model in tables: records by (topic, partition, offset),
 *   offsets assigned under the partition's row lock (`bus_partitions.next_offset`), committed
 *   offsets per consumer group, and group members with heartbeats (a member whose heartbeat
 *   is older than its session timeout is gone; its partitions go to the others).
 * - `consumed_events`: what a consumer group has applied, by event id, for idempotent consumers.
 * - `access_daily` / `access_files`: reads, writes, bytes and latency per (location, key, day),
 *   and the last read and last write per (location, key), kept apart: the tiering features.
 * - `alerts`: one open alert per (kind, subject) at a time; resolved ones are history.
 * - `sensor_readings`: the latest scored telemetry, for `GET /stream/peek` (purged by count).
 */
import { sql, type Kysely } from 'kysely';

const STATEMENTS = [
  sql`create table outbox (
    id bigint generated always as identity primary key,
    topic text collate "C" not null check (length(topic) between 1 and 249),
    record_key text not null,
    shard integer not null check (shard >= 0),
    value text not null,
    created_at timestamptz(3) not null default clock_timestamp(),
    sent_at timestamptz(3)
  )`,
  sql`create index outbox_unsent_idx on outbox (shard, id) where sent_at is null`,
  sql`create index outbox_sent_idx on outbox (sent_at) where sent_at is not null`,
  sql`create table outbox_shards (
    shard integer primary key check (shard >= 0),
    owner text,
    lease_until timestamptz(3)
  )`,
  sql`insert into outbox_shards (shard) select generate_series(0, 15)`,

  sql`create table bus_partitions (
    topic text collate "C" not null,
    partition integer not null check (partition >= 0),
    next_offset bigint not null default 0 check (next_offset >= 0),
    primary key (topic, partition)
  )`,
  sql`create table bus_records (
    topic text collate "C" not null,
    partition integer not null,
    "offset" bigint not null,
    record_key text not null,
    value text not null,
    headers jsonb not null default '{}',
    created_at timestamptz(3) not null default clock_timestamp(),
    primary key (topic, partition, "offset")
  )`,
  sql`create index bus_records_created_idx on bus_records (created_at)`,
  sql`create table bus_offsets (
    group_id text collate "C" not null,
    topic text collate "C" not null,
    partition integer not null,
    "offset" bigint not null check ("offset" >= 0),
    committed_at timestamptz(3) not null default now(),
    primary key (group_id, topic, partition)
  )`,
  sql`create table bus_members (
    group_id text collate "C" not null,
    member_id text collate "C" not null,
    topics text[] not null,
    joined_at timestamptz(3) not null default clock_timestamp(),
    heartbeat_at timestamptz(3) not null default clock_timestamp(),
    primary key (group_id, member_id)
  )`,

  sql`create table consumed_events (
    group_id text collate "C" not null,
    event_id text collate "C" not null,
    consumed_at timestamptz(3) not null default now(),
    primary key (group_id, event_id)
  )`,
  sql`create index consumed_events_at_idx on consumed_events (consumed_at)`,

  sql`create table access_daily (
    location text collate "C" not null,
    object_key text collate "C" not null,
    day date not null,
    reads bigint not null default 0,
    writes bigint not null default 0,
    deletes bigint not null default 0,
    bytes_read bigint not null default 0,
    bytes_written bigint not null default 0,
    read_latency_ms_sum double precision not null default 0,
    read_latency_ms_max double precision not null default 0,
    latency_spikes integer not null default 0,
    synthetic_reads bigint not null default 0,
    primary key (location, object_key, day)
  )`,
  sql`create index access_daily_day_idx on access_daily (day)`,
  sql`create table access_files (
    location text collate "C" not null,
    object_key text collate "C" not null,
    last_read_at timestamptz(3),
    last_write_at timestamptz(3),
    primary key (location, object_key)
  )`,

  sql`create table alerts (
    id bigint generated always as identity primary key,
    kind text collate "C" not null,
    subject text not null,
    severity text not null check (severity in ('info', 'warning', 'critical')),
    state text not null default 'open' check (state in ('open', 'acknowledged', 'resolved')),
    message text not null,
    details jsonb not null default '{}',
    occurrences integer not null default 1,
    first_at timestamptz(3) not null default now(),
    last_at timestamptz(3) not null default now(),
    acked_at timestamptz(3),
    acked_by text,
    resolved_at timestamptz(3),
    check ((state = 'resolved') = (resolved_at is not null))
  )`,
  sql`create unique index alerts_one_live_uq on alerts (kind, subject) where state <> 'resolved'`,
  sql`create index alerts_state_id_idx on alerts (state, id)`,

  sql`create table sensor_readings (
    id bigint generated always as identity primary key,
    device_id text collate "C" not null,
    ts timestamptz(3) not null,
    value double precision not null,
    score double precision not null,
    flagged boolean not null,
    event_id text,
    received_at timestamptz(3) not null,
    scored_at timestamptz(3) not null default clock_timestamp()
  )`,
  sql`create index sensor_readings_device_idx on sensor_readings (device_id, id)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['sensor_readings', 'alerts', 'access_files', 'access_daily', 'consumed_events', 'bus_members', 'bus_offsets', 'bus_records', 'bus_partitions', 'outbox_shards', 'outbox']) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
}

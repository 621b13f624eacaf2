/**
 * The event-driven tables on Kysely (migrations/006_events.ts), shared by PGlite and PostgreSQL:
 * the transactional outbox and its relay claims, the embedded bus's log, access statistics,
 * alerts and scored sensor readings. Raw SQL through Kysely's `sql` tag: these statements are
 * short and Postgres-specific (`for update skip locked`, `on conflict`, `unnest`), and a typed
 * builder would add nothing but ceremony.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import type {
  AccessDay,
  AccessStatEvent,
  AccessStats,
  AccessSummary,
  AccessWindowRow,
  Alert,
  AlertState,
  AlertStore,
  EventLog,
  JsonObject,
  LogRecord,
  NewAlert,
  Outbox,
  OutboxRecord,
  OutboxRow,
  ScoredReading,
  SensorReading,
  SensorReadings,
} from '../port.ts';
import { guarded } from './errors.ts';
import { toDate, toId, toSafeInteger } from './rows.ts';
import type { Database } from './schema.ts';

/** Shards of the outbox (rows of `outbox_shards`, made by the migration). */
export const OUTBOX_SHARDS = 16;
/** How long a relay holds a shard it claimed before another may take it. */
const SHARD_LEASE = sql`interval '30 seconds'`;

type Db = Kysely<Database> | Transaction<Database>;

/** FNV-1a of the key's UTF-8 bytes mod the shard count: stable across processes and versions. */
export function outboxShard(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % OUTBOX_SHARDS;
}

export function checkOutboxRecords(records: readonly OutboxRecord[]): void {
  for (const r of records) {
    if (typeof r.topic !== 'string' || r.topic.length === 0 || r.topic.length > 249) throw new MovingDataError('invalid_argument', 'outbox topic must be 1-249 characters', { retryable: false });
    if (typeof r.key !== 'string' || typeof r.value !== 'string') throw new MovingDataError('invalid_argument', 'outbox key and value must be strings', { retryable: false });
  }
}

/** Inserts outbox rows through `db` (a transaction's handle keeps them in it). */
export async function insertOutbox(db: Db, records: readonly OutboxRecord[]): Promise<void> {
  if (records.length === 0) return;
  checkOutboxRecords(records);
  await sql`${outboxInsert(records)}`.execute(db);
}

/**
 * The statement that inserts `records` (checked) into the outbox: one text whatever their
 * number (arrays, not a VALUES list), so a prepared statement serves every batch; also usable as
 * a data-modifying CTE (audit.ts appends the log's entries and their events in one statement).
 */
export function outboxInsert(records: readonly OutboxRecord[]): RawBuilder<unknown> {
  return sql`insert into outbox (topic, record_key, shard, value)
    select * from unnest(${records.map((r) => r.topic)}::text[], ${records.map((r) => r.key)}::text[], ${records.map((r) => outboxShard(r.key))}::int[], ${records.map((r) => r.value)}::text[])`;
}

export abstract class Part {
  protected readonly db: Kysely<Database>;
  readonly #guard: () => void;
  constructor(db: Kysely<Database>, guard: () => void) {
    this.db = db;
    this.#guard = guard;
  }
  protected run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return guarded(this.#guard, operation, work);
  }
}

export class SqlOutbox extends Part implements Outbox {
  readonly #owner = `relay-${randomUUID()}`;

  append(records: readonly OutboxRecord[]): Promise<void> {
    return this.run('appendOutbox', () => insertOutbox(this.db, records));
  }

  async relay(ship: (rows: readonly OutboxRow[]) => Promise<void>, options: { readonly limit: number; readonly shards?: number }): Promise<number> {
    const shards = Math.max(1, Math.min(OUTBOX_SHARDS, options.shards ?? 4));
    const limit = Math.max(1, Math.min(10_000, options.limit));
    // Claim: shards with unsent rows that nobody holds (or whose holder's lease ran out).
    const claimed = await this.run('claimOutbox', async () => {
      const result = await sql<{ shard: number }>`update outbox_shards s set owner = ${this.#owner}, lease_until = now() + ${SHARD_LEASE}
        where s.shard in (
          select c.shard from outbox_shards c
          where (c.lease_until is null or c.lease_until < now())
            and exists (select 1 from outbox o where o.shard = c.shard and o.sent_at is null)
          order by c.shard
          limit ${shards}
          for update skip locked)
        returning s.shard`.execute(this.db);
      return result.rows.map((r) => Number(r.shard));
    });
    if (claimed.length === 0) return 0;
    try {
      const rows = await this.run('readOutbox', async () => {
        const result = await sql<{ id: unknown; topic: string; record_key: string; value: string; created_at: unknown }>`select id, topic, record_key, value, created_at
          from outbox where shard = any(${claimed}::int[]) and sent_at is null order by id limit ${limit}`.execute(this.db);
        return result.rows.map((r): OutboxRow => ({ id: toId(r.id), topic: r.topic, key: r.record_key, value: r.value, createdAt: toDate(r.created_at) }));
      });
      if (rows.length === 0) return 0;
      await ship(rows);
      await this.run('markOutboxSent', async () => {
        await sql`update outbox set sent_at = now() where id = any(${rows.map((r) => r.id)}::bigint[]) and sent_at is null`.execute(this.db);
      });
      return rows.length;
    } finally {
      await this.run('releaseOutbox', async () => {
        await sql`update outbox_shards set owner = null, lease_until = null where owner = ${this.#owner} and shard = any(${claimed}::int[])`.execute(this.db);
      }).catch(() => undefined);
    }
  }

  stats(): Promise<{ readonly depth: number; readonly oldestAt: Date | null }> {
    return this.run('outboxStats', async () => {
      const result = await sql<{ depth: unknown; oldest: unknown }>`select count(*) as depth, min(created_at) as oldest from outbox where sent_at is null`.execute(this.db);
      const row = result.rows[0];
      return { depth: toSafeInteger(row?.depth ?? 0), oldestAt: row?.oldest === null || row?.oldest === undefined ? null : toDate(row.oldest) };
    });
  }

  purgeSent(olderThanMs: number): Promise<number> {
    return this.run('purgeOutbox', async () => {
      const result = await sql`delete from outbox where sent_at is not null and sent_at < now() - make_interval(secs => ${olderThanMs / 1000})`.execute(this.db);
      return Number(result.numAffectedRows ?? 0);
    });
  }
}

interface LogRow {
  topic: string;
  partition: number;
  offset: unknown;
  record_key: string;
  value: string;
  headers: unknown;
  created_at: unknown;
}

function toLogRecord(r: LogRow): LogRecord {
  const headers = (typeof r.headers === 'string' ? JSON.parse(r.headers) : r.headers) as Record<string, string> | null;
  return { topic: r.topic, partition: Number(r.partition), offset: BigInt(String(r.offset)), key: r.record_key, value: r.value, headers: headers ?? {}, createdAt: toDate(r.created_at) };
}

export class SqlEventLog extends Part implements EventLog {
  ensureTopic(topic: string, partitions: number): Promise<number> {
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 1024) throw new MovingDataError('invalid_argument', 'partitions must be 1-1024', { retryable: false });
    return this.run('ensureTopic', async () => {
      await sql`insert into bus_partitions (topic, partition) select ${topic}, p from generate_series(0, ${partitions - 1}) p
        where not exists (select 1 from bus_partitions where topic = ${topic}) on conflict do nothing`.execute(this.db);
      return this.#count(topic);
    });
  }

  async #count(topic: string): Promise<number> {
    const result = await sql<{ n: unknown }>`select count(*) as n from bus_partitions where topic = ${topic}`.execute(this.db);
    return toSafeInteger(result.rows[0]?.n ?? 0);
  }

  partitions(topic: string): Promise<number> {
    return this.run('topicPartitions', () => this.#count(topic));
  }

  append(records: ReadonlyArray<Omit<LogRecord, 'offset' | 'createdAt'>>): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.run('appendLog', () =>
      this.db.transaction().execute(async (trx) => {
        // Per partition, in the order given: lock its row, take offsets, insert.
        const byPartition = new Map<string, Array<Omit<LogRecord, 'offset' | 'createdAt'>>>();
        for (const r of records) {
          const id = `${r.topic}\u0000${r.partition}`;
          const list = byPartition.get(id) ?? [];
          list.push(r);
          byPartition.set(id, list);
        }
        // A fixed lock order (sorted) so two appenders never wait on each other in a cycle.
        for (const id of [...byPartition.keys()].sort()) {
          const list = byPartition.get(id)!;
          const { topic, partition } = list[0]!;
          const taken = await sql<{ first: unknown }>`update bus_partitions set next_offset = next_offset + ${list.length}
            where topic = ${topic} and partition = ${partition} returning next_offset - ${list.length} as first`.execute(trx);
          const first = taken.rows[0]?.first;
          if (first === undefined) throw new MovingDataError('not_found', `no partition ${partition} in topic ${topic}`, { retryable: false });
          const base = BigInt(first as string | number | bigint);
          await sql`insert into bus_records (topic, partition, "offset", record_key, value, headers)
            select ${topic}, ${partition}, o, k, v, h::jsonb from unnest(
              ${list.map((_, i) => (base + BigInt(i)).toString())}::bigint[], ${list.map((r) => r.key)}::text[], ${list.map((r) => r.value)}::text[], ${list.map((r) => JSON.stringify(r.headers ?? {}))}::text[]) as t(o, k, v, h)`.execute(trx);
        }
      }),
    );
  }

  read(topic: string, partition: number, fromOffset: bigint, limit: number): Promise<LogRecord[]> {
    return this.run('readLog', async () => {
      const result = await sql<LogRow>`select topic, partition, "offset", record_key, value, headers, created_at from bus_records
        where topic = ${topic} and partition = ${partition} and "offset" >= ${fromOffset.toString()}::bigint order by "offset" limit ${limit}`.execute(this.db);
      return result.rows.map(toLogRecord);
    });
  }

  commit(group: string, topic: string, partition: number, nextOffset: bigint): Promise<void> {
    return this.run('commitOffset', async () => {
      await sql`insert into bus_offsets (group_id, topic, partition, "offset") values (${group}, ${topic}, ${partition}, ${nextOffset.toString()}::bigint)
        on conflict (group_id, topic, partition) do update set "offset" = greatest(bus_offsets."offset", excluded."offset"), committed_at = now()`.execute(this.db);
    });
  }

  committed(group: string, topics: readonly string[]): Promise<Array<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>> {
    return this.run('committedOffsets', async () => {
      const result = await sql<{ topic: string; partition: number; offset: unknown }>`select topic, partition, "offset" from bus_offsets where group_id = ${group} and topic = any(${[...topics]}::text[])`.execute(this.db);
      return result.rows.map((r) => ({ topic: r.topic, partition: Number(r.partition), offset: BigInt(String(r.offset)) }));
    });
  }

  endOffsets(topics: readonly string[]): Promise<Array<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>> {
    return this.run('endOffsets', async () => {
      const result = await sql<{ topic: string; partition: number; next_offset: unknown }>`select topic, partition, next_offset from bus_partitions where topic = any(${[...topics]}::text[]) order by topic, partition`.execute(this.db);
      return result.rows.map((r) => ({ topic: r.topic, partition: Number(r.partition), offset: BigInt(String(r.next_offset)) }));
    });
  }

  heartbeat(group: string, member: string, topics: readonly string[], sessionMs: number): Promise<string[]> {
    return this.run('groupHeartbeat', async () => {
      await sql`insert into bus_members (group_id, member_id, topics) values (${group}, ${member}, ${[...topics]}::text[])
        on conflict (group_id, member_id) do update set heartbeat_at = clock_timestamp(), topics = excluded.topics`.execute(this.db);
      await sql`delete from bus_members where group_id = ${group} and heartbeat_at < clock_timestamp() - make_interval(secs => ${sessionMs / 1000})`.execute(this.db);
      const result = await sql<{ member_id: string }>`select member_id from bus_members where group_id = ${group} order by member_id`.execute(this.db);
      return result.rows.map((r) => r.member_id);
    });
  }

  leave(group: string, member: string): Promise<void> {
    return this.run('groupLeave', async () => {
      await sql`delete from bus_members where group_id = ${group} and member_id = ${member}`.execute(this.db);
    });
  }

  purge(olderThanMs: number): Promise<number> {
    return this.run('purgeLog', async () => {
      const result = await sql`delete from bus_records where created_at < now() - make_interval(secs => ${olderThanMs / 1000})`.execute(this.db);
      return Number(result.numAffectedRows ?? 0);
    });
  }
}

interface DayRow {
  day: unknown;
  reads: unknown;
  writes: unknown;
  deletes: unknown;
  bytes_read: unknown;
  bytes_written: unknown;
  read_latency_ms_sum: unknown;
  read_latency_ms_max: unknown;
  latency_spikes: unknown;
  synthetic_reads: unknown;
}

function dayText(value: unknown): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value).slice(0, 10);
}

export class SqlAccessStats extends Part implements AccessStats {
  apply(group: string, events: readonly AccessStatEvent[]): Promise<number> {
    if (events.length === 0) return Promise.resolve(0);
    return this.run('applyAccessStats', () =>
      this.db.transaction().execute(async (trx) => {
        // The events this group has not applied yet: claimed by inserting their ids.
        const fresh = await sql<{ event_id: string }>`insert into consumed_events (group_id, event_id)
          select ${group}, e from unnest(${events.map((e) => e.eventId)}::text[]) as e on conflict do nothing returning event_id`.execute(trx);
        // Each new id once: a batch may carry the same event twice (a publish that timed out
        // but landed, then went again), and the claim above returns its id only once.
        const ids = new Set(fresh.rows.map((r) => r.event_id));
        const todo = events.filter((e) => ids.delete(e.eventId));
        if (todo.length === 0) return 0;
        // Fold per (location, key, day) first: one upsert row each.
        const days = new Map<string, { location: string; key: string; day: string; reads: number; writes: number; deletes: number; bytesRead: number; bytesWritten: number; latencySum: number; latencyMax: number; spikes: number; synthetic: number }>();
        const last = new Map<string, { location: string; key: string; read: Date | null; write: Date | null }>();
        for (const e of todo) {
          const day = e.at.toISOString().slice(0, 10);
          const id = `${e.location}\u0000${e.key}\u0000${day}`;
          const d = days.get(id) ?? { location: e.location, key: e.key, day, reads: 0, writes: 0, deletes: 0, bytesRead: 0, bytesWritten: 0, latencySum: 0, latencyMax: 0, spikes: 0, synthetic: 0 };
          const f = last.get(`${e.location}\u0000${e.key}`) ?? { location: e.location, key: e.key, read: null, write: null };
          if (e.kind === 'read') {
            d.reads += 1;
            d.bytesRead += e.bytes;
            d.latencySum += e.latencyMs ?? 0;
            d.latencyMax = Math.max(d.latencyMax, e.latencyMs ?? 0);
            if (e.spike) d.spikes += 1;
            if (e.synthetic) d.synthetic += 1;
            if (f.read === null || e.at > f.read) f.read = e.at;
          } else if (e.kind === 'write') {
            d.writes += 1;
            d.bytesWritten += e.bytes;
            if (f.write === null || e.at > f.write) f.write = e.at;
          } else {
            d.deletes += 1;
          }
          days.set(id, d);
          last.set(`${e.location}\u0000${e.key}`, f);
        }
        const rows = [...days.values()];
        await sql`insert into access_daily as a (location, object_key, day, reads, writes, deletes, bytes_read, bytes_written, read_latency_ms_sum, read_latency_ms_max, latency_spikes, synthetic_reads)
          select * from unnest(${rows.map((r) => r.location)}::text[], ${rows.map((r) => r.key)}::text[], ${rows.map((r) => r.day)}::date[], ${rows.map((r) => r.reads)}::bigint[],
            ${rows.map((r) => r.writes)}::bigint[], ${rows.map((r) => r.deletes)}::bigint[], ${rows.map((r) => r.bytesRead)}::bigint[], ${rows.map((r) => r.bytesWritten)}::bigint[],
            ${rows.map((r) => r.latencySum)}::float8[], ${rows.map((r) => r.latencyMax)}::float8[], ${rows.map((r) => r.spikes)}::int[], ${rows.map((r) => r.synthetic)}::bigint[])
          on conflict (location, object_key, day) do update set
            reads = a.reads + excluded.reads, writes = a.writes + excluded.writes, deletes = a.deletes + excluded.deletes,
            bytes_read = a.bytes_read + excluded.bytes_read, bytes_written = a.bytes_written + excluded.bytes_written,
            read_latency_ms_sum = a.read_latency_ms_sum + excluded.read_latency_ms_sum,
            read_latency_ms_max = greatest(a.read_latency_ms_max, excluded.read_latency_ms_max),
            latency_spikes = a.latency_spikes + excluded.latency_spikes, synthetic_reads = a.synthetic_reads + excluded.synthetic_reads`.execute(trx);
        const files = [...last.values()];
        await sql`insert into access_files as f (location, object_key, last_read_at, last_write_at)
          select * from unnest(${files.map((r) => r.location)}::text[], ${files.map((r) => r.key)}::text[], ${files.map((r) => r.read?.toISOString() ?? null)}::timestamptz[], ${files.map((r) => r.write?.toISOString() ?? null)}::timestamptz[])
          on conflict (location, object_key) do update set
            last_read_at = greatest(f.last_read_at, excluded.last_read_at), last_write_at = greatest(f.last_write_at, excluded.last_write_at)`.execute(trx);
        return todo.length;
      }),
    );
  }

  summary(location: string, key: string, sinceDay?: string): Promise<AccessSummary> {
    return this.run('accessSummary', async () => {
      const since = sinceDay ?? '1970-01-01';
      const days = await sql<DayRow>`select * from access_daily where location = ${location} and object_key = ${key} and day >= ${since}::date order by day`.execute(this.db);
      const file = await sql<{ last_read_at: unknown; last_write_at: unknown }>`select last_read_at, last_write_at from access_files where location = ${location} and object_key = ${key}`.execute(this.db);
      const f = file.rows[0];
      const date = (v: unknown) => (v === null || v === undefined ? null : toDate(v));
      return {
        location,
        key,
        lastReadAt: date(f?.last_read_at),
        lastWriteAt: date(f?.last_write_at),
        days: days.rows.map(
          (r): AccessDay => ({
            day: dayText(r.day),
            reads: toSafeInteger(r.reads),
            writes: toSafeInteger(r.writes),
            deletes: toSafeInteger(r.deletes),
            bytesRead: toSafeInteger(r.bytes_read),
            bytesWritten: toSafeInteger(r.bytes_written),
            readLatencyMsSum: Number(r.read_latency_ms_sum),
            readLatencyMsMax: Number(r.read_latency_ms_max),
            latencySpikes: toSafeInteger(r.latency_spikes),
            syntheticReads: toSafeInteger(r.synthetic_reads),
          }),
        ),
      };
    });
  }

  windows(query: { readonly asOf?: Date; readonly location?: string; readonly after?: { readonly location: string; readonly key: string }; readonly limit?: number }): Promise<AccessWindowRow[]> {
    return this.run('accessWindows', async () => {
      const asOf = (query.asOf ?? new Date()).toISOString().slice(0, 10);
      const limit = Math.max(1, Math.min(10_000, query.limit ?? 1000));
      const afterLocation = query.after?.location ?? '';
      const afterKey = query.after?.key ?? '';
      // One pass over each file's last 90 days of rows (the primary key's order).
      const result = await sql<{
        location: string;
        object_key: string;
        r1: unknown; r7: unknown; r30: unknown; r90: unknown;
        b1: unknown; b7: unknown; b30: unknown; b90: unknown;
        lat30: unknown; n30: unknown; spikes30: unknown;
        last_read_at: unknown; last_write_at: unknown;
      }>`select f.location, f.object_key,
          coalesce(sum(d.reads) filter (where d.day > ${asOf}::date - 1), 0) as r1,
          coalesce(sum(d.reads) filter (where d.day > ${asOf}::date - 7), 0) as r7,
          coalesce(sum(d.reads) filter (where d.day > ${asOf}::date - 30), 0) as r30,
          coalesce(sum(d.reads), 0) as r90,
          coalesce(sum(d.bytes_read) filter (where d.day > ${asOf}::date - 1), 0) as b1,
          coalesce(sum(d.bytes_read) filter (where d.day > ${asOf}::date - 7), 0) as b7,
          coalesce(sum(d.bytes_read) filter (where d.day > ${asOf}::date - 30), 0) as b30,
          coalesce(sum(d.bytes_read), 0) as b90,
          sum(d.read_latency_ms_sum) filter (where d.day > ${asOf}::date - 30) as lat30,
          coalesce(sum(d.reads) filter (where d.day > ${asOf}::date - 30), 0) as n30,
          coalesce(sum(d.latency_spikes) filter (where d.day > ${asOf}::date - 30), 0) as spikes30,
          f.last_read_at, f.last_write_at
        from access_files f
        left join access_daily d on d.location = f.location and d.object_key = f.object_key and d.day > ${asOf}::date - 90 and d.day <= ${asOf}::date
        where (${query.location ?? null}::text is null or f.location = ${query.location ?? null})
          and (f.location, f.object_key) > (${afterLocation}, ${afterKey})
        group by f.location, f.object_key, f.last_read_at, f.last_write_at
        order by f.location, f.object_key
        limit ${limit}`.execute(this.db);
      const n = (v: unknown) => toSafeInteger(v ?? 0);
      const date = (v: unknown) => (v === null || v === undefined ? null : toDate(v));
      return result.rows.map((r) => ({
        location: r.location,
        key: r.object_key,
        reads: [n(r.r1), n(r.r7), n(r.r30), n(r.r90)] as const,
        bytesRead: [n(r.b1), n(r.b7), n(r.b30), n(r.b90)] as const,
        lastReadAt: date(r.last_read_at),
        lastWriteAt: date(r.last_write_at),
        meanLatencyMs30: n(r.n30) === 0 || r.lat30 === null ? null : Number(r.lat30) / n(r.n30),
        spikes30: n(r.spikes30),
      }));
    });
  }

  totals(): Promise<{ readonly reads: number; readonly writes: number; readonly deletes: number; readonly bytesRead: number }> {
    return this.run('accessTotals', async () => {
      const result = await sql<{ reads: unknown; writes: unknown; deletes: unknown; bytes_read: unknown }>`select coalesce(sum(reads), 0) as reads, coalesce(sum(writes), 0) as writes,
        coalesce(sum(deletes), 0) as deletes, coalesce(sum(bytes_read), 0) as bytes_read from access_daily`.execute(this.db);
      const r = result.rows[0];
      return { reads: toSafeInteger(r?.reads ?? 0), writes: toSafeInteger(r?.writes ?? 0), deletes: toSafeInteger(r?.deletes ?? 0), bytesRead: toSafeInteger(r?.bytes_read ?? 0) };
    });
  }

  purgeConsumed(olderThanMs: number): Promise<number> {
    return this.run('purgeConsumed', async () => {
      const result = await sql`delete from consumed_events where consumed_at < now() - make_interval(secs => ${olderThanMs / 1000})`.execute(this.db);
      return Number(result.numAffectedRows ?? 0);
    });
  }
}

interface AlertRow {
  id: unknown;
  kind: string;
  subject: string;
  severity: string;
  state: string;
  message: string;
  details: unknown;
  occurrences: unknown;
  first_at: unknown;
  last_at: unknown;
  acked_at: unknown;
  acked_by: string | null;
  resolved_at: unknown;
}

function toAlert(r: AlertRow): Alert {
  const date = (v: unknown) => (v === null || v === undefined ? null : toDate(v));
  return {
    id: toId(r.id),
    kind: r.kind,
    subject: r.subject,
    severity: r.severity as Alert['severity'],
    state: r.state as AlertState,
    message: r.message,
    details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as JsonObject,
    occurrences: toSafeInteger(r.occurrences),
    firstAt: toDate(r.first_at),
    lastAt: toDate(r.last_at),
    ackedAt: date(r.acked_at),
    ackedBy: r.acked_by,
    resolvedAt: date(r.resolved_at),
  };
}

export class SqlAlertStore extends Part implements AlertStore {
  raise(alert: NewAlert): Promise<{ readonly alert: Alert; readonly created: boolean }> {
    return this.run('raiseAlert', async () => {
      const details = JSON.stringify(alert.details ?? {});
      // One statement: a new live alert, or one more occurrence of the live one.
      const result = await sql<AlertRow & { created: boolean }>`insert into alerts (kind, subject, severity, message, details)
        values (${alert.kind}, ${alert.subject}, ${alert.severity}, ${alert.message}, ${details}::jsonb)
        on conflict (kind, subject) where state <> 'resolved' do update set
          occurrences = alerts.occurrences + 1, last_at = now(), message = excluded.message, details = excluded.details,
          severity = case when excluded.severity = 'critical' then 'critical' else alerts.severity end
        returning *, (xmax = 0) as created`.execute(this.db);
      const row = result.rows[0]!;
      return { alert: toAlert(row), created: row.created === true };
    });
  }

  resolve(kind: string, subject: string): Promise<Alert | undefined> {
    return this.run('resolveAlert', async () => {
      const result = await sql<AlertRow>`update alerts set state = 'resolved', resolved_at = now() where kind = ${kind} and subject = ${subject} and state <> 'resolved' returning *`.execute(this.db);
      const row = result.rows[0];
      return row === undefined ? undefined : toAlert(row);
    });
  }

  resolveQuiet(kind: string, quietMs: number): Promise<Alert[]> {
    return this.run('resolveQuietAlerts', async () => {
      const result = await sql<AlertRow>`update alerts set state = 'resolved', resolved_at = now()
        where kind = ${kind} and state <> 'resolved' and last_at < now() - make_interval(secs => ${quietMs / 1000}) returning *`.execute(this.db);
      return result.rows.map(toAlert);
    });
  }

  acknowledge(id: string, by: string): Promise<Alert> {
    return this.run('acknowledgeAlert', async () => {
      if (!/^[1-9]\d{0,18}$/.test(id)) throw new MovingDataError('not_found', `no alert ${id}`, { retryable: false });
      const result = await sql<AlertRow>`update alerts set state = case when state = 'open' then 'acknowledged' else state end,
        acked_at = coalesce(acked_at, now()), acked_by = coalesce(acked_by, ${by}) where id = ${id}::bigint returning *`.execute(this.db);
      const row = result.rows[0];
      if (row === undefined) throw new MovingDataError('not_found', `no alert ${id}`, { retryable: false });
      return toAlert(row);
    });
  }

  list(query: { readonly state?: AlertState; readonly kind?: string; readonly afterId?: string; readonly limit?: number } = {}): Promise<Alert[]> {
    return this.run('listAlerts', async () => {
      const limit = Math.max(1, Math.min(1000, query.limit ?? 100));
      const after = query.afterId !== undefined && /^\d{1,19}$/.test(query.afterId) ? query.afterId : null;
      // Newest first; `afterId` pages towards older ones.
      const result = await sql<AlertRow>`select * from alerts
        where (${query.state ?? null}::text is null or state = ${query.state ?? null})
          and (${query.kind ?? null}::text is null or kind = ${query.kind ?? null})
          and (${after}::bigint is null or id < ${after}::bigint)
        order by id desc limit ${limit}`.execute(this.db);
      return result.rows.map(toAlert);
    });
  }

  counts(): Promise<Array<{ readonly kind: string; readonly state: AlertState; readonly count: number }>> {
    return this.run('countAlerts', async () => {
      const result = await sql<{ kind: string; state: string; n: unknown }>`select kind, state, count(*) as n from alerts group by kind, state order by kind, state`.execute(this.db);
      return result.rows.map((r) => ({ kind: r.kind, state: r.state as AlertState, count: toSafeInteger(r.n) }));
    });
  }
}

interface ReadingRow {
  id: unknown;
  device_id: string;
  ts: unknown;
  value: unknown;
  score: unknown;
  flagged: boolean;
  event_id: string | null;
  received_at: unknown;
  scored_at: unknown;
}

export class SqlSensorReadings extends Part implements SensorReadings {
  record(readings: readonly SensorReading[]): Promise<void> {
    if (readings.length === 0) return Promise.resolve();
    return this.run('recordReadings', async () => {
      await sql`insert into sensor_readings (device_id, ts, value, score, flagged, event_id, received_at)
        select * from unnest(${readings.map((r) => r.deviceId)}::text[], ${readings.map((r) => r.ts.toISOString())}::timestamptz[], ${readings.map((r) => r.value)}::float8[],
          ${readings.map((r) => r.score)}::float8[], ${readings.map((r) => r.flagged)}::boolean[], ${readings.map((r) => r.eventId)}::text[], ${readings.map((r) => r.receivedAt.toISOString())}::timestamptz[])`.execute(this.db);
    });
  }

  latest(query: { readonly device?: string; readonly limit: number }): Promise<ScoredReading[]> {
    return this.run('latestReadings', async () => {
      const limit = Math.max(1, Math.min(1000, query.limit));
      const result =
        query.device === undefined
          ? await sql<ReadingRow>`select * from sensor_readings order by id desc limit ${limit}`.execute(this.db)
          : await sql<ReadingRow>`select * from sensor_readings where device_id = ${query.device} order by id desc limit ${limit}`.execute(this.db);
      return result.rows.map((r) => ({
        id: toId(r.id),
        deviceId: r.device_id,
        ts: toDate(r.ts),
        value: Number(r.value),
        score: Number(r.score),
        flagged: r.flagged,
        eventId: r.event_id,
        receivedAt: toDate(r.received_at),
        scoredAt: toDate(r.scored_at),
      }));
    });
  }

  trim(keep: number): Promise<number> {
    return this.run('trimReadings', async () => {
      const result = await sql`delete from sensor_readings where id <= (select id from sensor_readings order by id desc offset ${Math.max(0, keep)} limit 1)`.execute(this.db);
      return Number(result.numAffectedRows ?? 0);
    });
  }
}

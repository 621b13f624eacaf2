/**
 * The event path, side by side with Kafka's own load generator in the same run, same broker:
 *
 * - telemetry → Kafka from one process: sensor readings validated and published the way
 *   `POST /stream/event` batches are (batches of 1,000, 8 in flight), through our Kafka adapter
 *   (idempotent producer, acks=all), beside `org.apache.kafka.tools.ProducerPerformance` with the
 *   same record size and acks=all, idempotence on. Target ≥ 0.8 × the tool.
 * - access events → outbox → Kafka: events appended to the outbox (8 writers, 500 a
 *   transaction) while the relay ships them, on PostgreSQL (target ≥ 0.5 × the tool) and on
 *   PGlite (figures only); the outbox's added latency is each row's sent_at − created_at.
 * - detection latency: `POST /stream/event` (one reading) until its score is in `/stream/peek`,
 *   on embedded defaults, p50/p99 (target p99 < 100 ms).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { KafkaBus } from '../../src/events/kafka/kafka-bus.ts';
import { OutboxRelay } from '../../src/events/relay.ts';
import { sensorEventsFrom, sensorRecord } from '../../src/events/telemetry.ts';
import { labPaths } from '../../src/lab/paths.ts';
import { openMetadataStore, type MetadataStore } from '../../src/metadata/index.ts';
import { rawDatabaseOf } from '../../src/metadata/sql/store.ts';

const run = promisify(execFile);

export interface EventsCase {
  readonly records: number;
}
export const FULL_CASE: EventsCase = { records: 200_000 };
export const QUICK_CASE: EventsCase = { records: 20_000 };

export interface EventsRow {
  readonly what: string;
  readonly oursPerSecond: number;
  readonly referencePerSecond: number | null;
  readonly ratio: number | null;
  readonly target: string;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** ProducerPerformance's records/s for `records` of `bytes` each, acks=all, idempotent. */
async function producerPerformance(bootstrap: string, topic: string, records: number, bytes: number): Promise<number> {
  const lib = labPaths().kafkaLib;
  const { stdout } = await run(
    'java',
    ['-cp', join(lib, '*'), 'org.apache.kafka.tools.ProducerPerformance', '--topic', topic, '--num-records', String(records), '--record-size', String(bytes), '--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all', 'enable.idempotence=true'],
    { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
  );
  // The summary line: "200000 records sent, 45000.1 records/sec (8.58 MB/sec), ..."
  const summary = /(\d+) records sent, ([\d.]+) records\/sec/.exec(stdout.trim().split('\n').at(-1) ?? '');
  if (summary === null) throw new Error(`ProducerPerformance printed no summary:\n${stdout.slice(-2000)}`);
  return Number(summary[2]);
}

async function telemetryPublish(bus: KafkaBus, topic: string, records: number): Promise<{ perSecond: number; recordBytes: number }> {
  const batch = 1000;
  const inFlight = 8;
  let next = 0;
  let bytes = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (;;) {
        const first = next;
        next += batch;
        if (first >= records) return;
        const n = Math.min(batch, records - first);
        const readings = Array.from({ length: n }, (_, i) => ({ device_id: `bench-sensor-${(first + i) % 64}`, ts: Date.now(), value: 20 + ((first + i) % 100) / 10 }));
        const events = sensorEventsFrom({ events: readings });
        const out = events.map((e) => sensorRecord(topic, e));
        bytes += out.reduce((a, r) => a + r.value.length, 0);
        await bus.publish(out);
      }
    }),
  );
  return { perSecond: records / ((performance.now() - started) / 1000), recordBytes: Math.round(bytes / records) };
}

async function outboxThroughput(store: MetadataStore, bus: KafkaBus, topic: string, records: number): Promise<{ perSecond: number; p50: number; p99: number }> {
  const relay = new OutboxRelay(store.outbox, bus, { batch: 2000, idleMs: 5 });
  relay.start();
  const started = performance.now();
  const perTx = 500;
  let next = 0;
  const value = (i: number) => JSON.stringify({ schema: 1, event_id: `bench-${i}`, type: 'read.completed', ts: new Date().toISOString(), principal: 'bench', location: 'aws', key: `bench/${i % 1000}`, version: 1, bytes: 4096, latency_ms: 3.2, tier: null, outcome: 'ok', synthetic: true });
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (;;) {
        const first = next;
        next += perTx;
        if (first >= records) return;
        const n = Math.min(perTx, records - first);
        await store.outbox.append(Array.from({ length: n }, (_, i) => ({ topic, key: `bench/${(first + i) % 1000}`, value: value(first + i) })));
      }
    }),
  );
  for (;;) {
    if ((await store.outbox.stats()).depth === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  await relay.stop();
  const db = rawDatabaseOf(store)!;
  const rows = await sql<{ ms: number }>`select extract(epoch from (sent_at - created_at)) * 1000 as ms from outbox where topic = ${topic} and sent_at is not null`.execute(db);
  const latencies = rows.rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
  return { perSecond: records / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function detectionLatency(workDir: string, samples: number): Promise<{ p50: number; p99: number; perSecond: number }> {
  const dataDir = await mkdtemp(join(workDir, 'detect-'));
  const token = 'bench-detect-token-0123456789';
  const app = await createApp(loadConfig({ MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: token, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent', PORT: '0', CONSISTENCY_SCAN_INTERVAL_S: '0' }));
  const headers = { authorization: `Bearer ${token}` };
  const latencies: number[] = [];
  try {
    for (let i = 0; i < samples; i += 1) {
      const t0 = performance.now();
      const posted = await app.api.inject({ method: 'POST', url: '/stream/event', headers, payload: { device_id: 'bench-detect', ts: Date.now(), value: 20 + (i % 7) / 10 } });
      const id = posted.json<{ event_ids: string[] }>().event_ids[0];
      for (;;) {
        const peek = await app.api.inject({ method: 'GET', url: '/stream/peek?device=bench-detect&limit=5', headers });
        if (peek.json<{ events: Array<{ event_id: string }> }>().events.some((e) => e.event_id === id)) break;
        if (performance.now() - t0 > 5000) throw new Error('a reading did not reach /stream/peek within 5 s');
        await new Promise((r) => setTimeout(r, 1));
      }
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: Number.NaN };
}

export async function runEventsBench(lab: Readonly<Record<string, string>>, workDir: string, bench: EventsCase, log: (line: string) => void): Promise<EventsRow[]> {
  const bootstrap = lab['KAFKA_BOOTSTRAP']!;
  const stamp = Date.now().toString(36);
  const bus = new KafkaBus({ bootstrap: [bootstrap], clientId: `bench-${stamp}`, publishTimeoutMs: 60_000 });
  const rows: EventsRow[] = [];
  try {
    const telemetryTopic = `bench-telemetry-${stamp}`;
    const referenceTopic = `bench-reference-${stamp}`;
    const outboxTopic = `bench-outbox-${stamp}`;
    await bus.ensureTopics([telemetryTopic, referenceTopic, outboxTopic, `${outboxTopic}-pglite`].map((name) => ({ name, partitions: 6 })));
    log(`events: telemetry, ${bench.records} readings through our Kafka adapter`);
    const ours = await telemetryPublish(bus, telemetryTopic, bench.records);
    log(`events: ProducerPerformance, ${bench.records} × ${ours.recordBytes} B`);
    const reference = await producerPerformance(bootstrap, referenceTopic, bench.records, ours.recordBytes);
    rows.push({ what: `telemetry → Kafka, one process (${ours.recordBytes} B records)`, oursPerSecond: ours.perSecond, referencePerSecond: reference, ratio: ours.perSecond / reference, target: '≥ 0.8', p50Ms: null, p99Ms: null });

    const outboxRecords = Math.min(bench.records, 50_000);
    const schema = `bench_events_${stamp}`;
    const pg = await openMetadataStore({ kind: 'postgres', url: lab['DATABASE_URL']!, schema, poolSize: 10 });
    try {
      log(`events: ${outboxRecords} access events through the outbox on PostgreSQL`);
      const onPg = await outboxThroughput(pg, bus, outboxTopic, outboxRecords);
      rows.push({ what: 'access events → outbox → Kafka (PostgreSQL)', oursPerSecond: onPg.perSecond, referencePerSecond: reference, ratio: onPg.perSecond / reference, target: '≥ 0.5', p50Ms: onPg.p50, p99Ms: onPg.p99 });
    } finally {
      const db = rawDatabaseOf(pg);
      if (db !== undefined) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db).catch(() => undefined);
      await pg.close();
    }
    const pglite = await openMetadataStore({ kind: 'pglite', dir: await mkdtemp(join(workDir, 'events-pglite-')) });
    try {
      log(`events: ${outboxRecords} access events through the outbox on PGlite`);
      const onPglite = await outboxThroughput(pglite, bus, `${outboxTopic}-pglite`, outboxRecords);
      rows.push({ what: 'access events → outbox → Kafka (PGlite)', oursPerSecond: onPglite.perSecond, referencePerSecond: null, ratio: null, target: 'figures', p50Ms: onPglite.p50, p99Ms: onPglite.p99 });
    } finally {
      await pglite.close();
    }
  } finally {
    await bus.close();
  }
  log('events: detection latency, POST /stream/event → /stream/peek (embedded)');
  const detect = await detectionLatency(workDir, 300);
  rows.push({ what: 'detection latency, POST /stream/event → /stream/peek (embedded)', oursPerSecond: Number.NaN, referencePerSecond: null, ratio: null, target: 'p99 < 100 ms', p50Ms: detect.p50, p99Ms: detect.p99 });
  return rows;
}

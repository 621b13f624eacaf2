/**
 * The outbox under a broker outage, on the lab (PostgreSQL metadata, a private Kafka broker of
 * our own so the shared one is not disturbed): Kafka stopped for 30 s during a burst of 10,000
 * access events. Every API call answers (no 5xx), the outbox grows while the broker is away,
 * and once it is back the statistics consumer counts all 10,000 exactly once.
 * OUTAGE_DEBUG=1 logs the app's warnings and the counts while it waits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startPrivateServer, type PrivateServer } from '../../src/lab/index.ts';
import { labEnv } from '../lab.ts';
import { until } from '../until.ts';

const ADMIN = 'outage-admin-token-0123456789';
const OUTAGE_MS = 30_000;

describe('access events while Kafka is down', () => {
  let kafka: PrivateServer;
  let app: App;
  let dataDir: string;
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    kafka = await startPrivateServer('kafka');
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-kafka-outage-'));
    const suffix = `${process.pid}-${Date.now().toString(36)}`;
    app = await createApp(
      loadConfig({
        ...labEnv(),
        KAFKA_BOOTSTRAP: kafka.env['KAFKA_BOOTSTRAP']!,
        KAFKA_PUBLISH_TIMEOUT_MS: '2000',
        KAFKA_PARTITIONS: '3',
        TOPIC_ACCESS: `access-outage-${suffix}`,
        TOPIC_SENSOR: `sensor-outage-${suffix}`,
        DATABASE_SCHEMA: `outage_${suffix.replace('-', '_')}`,
        MOVINGDATA_DEMO: '1',
        MOVINGDATA_ADMIN_TOKEN: ADMIN,
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: process.env['OUTAGE_DEBUG'] === '1' ? 'warn' : 'silent',
        PORT: '0',
        CONSISTENCY_SCAN_INTERVAL_S: '0',
        ALERT_LATENCY_MS: '100000',
      }),
    );
  }, 240_000);

  afterAll(async () => {
    await app?.close();
    await kafka?.dispose();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps serving, grows the outbox, then delivers all 10,000 exactly once', async () => {
    // Files for the synthetic reads, and the consumers caught up on their events.
    expect((await app.api.inject({ method: 'POST', url: '/seed', headers: admin, payload: { count: 12 } })).statusCode).toBe(200);
    const stats = app.context.metadata.accessStats;
    await until('the seed writes counted', async () => ((await stats.totals()).writes >= 12 ? true : undefined), 60_000);
    const before = await stats.totals();

    await kafka.stop();
    const statuses: number[] = [];
    const outageEnds = Date.now() + OUTAGE_MS;
    // The burst: 10,000 synthetic reads in 40 bursts of 250, while real calls go on.
    for (let i = 0; i < 40; i += 1) {
      const burst = await app.api.inject({ method: 'POST', url: '/simulate/burst', headers: admin, payload: { events: 250 } });
      statuses.push(burst.statusCode);
      expect(burst.json<{ access_events: number }>().access_events).toBe(250);
      statuses.push((await app.api.inject({ method: 'GET', url: '/files/aws/file_001.txt', headers: admin })).statusCode);
      statuses.push((await app.api.inject({ method: 'GET', url: '/streaming/metrics', headers: admin })).statusCode);
    }
    const waiting = await app.context.metadata.outbox.stats();
    expect(waiting.depth).toBeGreaterThanOrEqual(10_000);
    const metrics = (await app.api.inject({ method: 'GET', url: '/streaming/metrics', headers: admin })).json<{ broker_reachable: boolean; outbox: { depth: number } }>();
    expect(metrics.broker_reachable).toBe(false);
    expect(metrics.outbox.depth).toBeGreaterThanOrEqual(10_000);
    // Telemetry cannot be taken without the broker: 503, not 500.
    const reading = await app.api.inject({ method: 'POST', url: '/stream/event', headers: admin, payload: { device_id: 'd', ts: 0, value: 1 } });
    expect(reading.statusCode).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())));
    expect(statuses.filter((s) => s >= 500)).toEqual([]);

    await kafka.start();
    const after = await until(
      'all 10,000 synthetic reads counted',
      async () => {
        const t = await stats.totals();
        if (process.env['OUTAGE_DEBUG'] === '1') console.error(JSON.stringify({ t, m: (await app.api.inject({ method: 'GET', url: '/streaming/metrics', headers: admin })).json<unknown>() }));
        return t.reads - before.reads >= 10_000 + 40 ? t : undefined;
      },
      120_000,
      500,
    );
    // Exactly once: 10,000 synthetic reads and 40 real ones, no more, even after more time.
    expect(after.reads - before.reads).toBe(10_040);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await stats.totals()).reads - before.reads).toBe(10_040);
    expect((await app.context.metadata.outbox.stats()).depth).toBe(0);
    const recovered = (await app.api.inject({ method: 'GET', url: '/streaming/metrics', headers: admin })).json<{ broker_reachable: boolean; producer_ready: boolean }>();
    expect(recovered).toMatchObject({ broker_reachable: true, producer_ready: true });
  }, 300_000);
});

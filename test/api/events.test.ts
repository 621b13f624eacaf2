/**
 * The event-driven half through the API, on embedded defaults and on the lab (PostgreSQL,
 * embedded bus): access events committed with their audit entries and counted exactly once by
 * the statistics consumer, the stream endpoints and their validation, detection into
 * /stream/peek, a burst raising an anomaly alert, alerts in /health, roles, and /metrics.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { labEnv } from '../lab.ts';
import { until } from '../until.ts';

const ADMIN = 'events-admin-token-0123456789';

const setups: Array<[string, () => Record<string, string>]> = [
  ['embedded defaults', () => ({})],
  ['the lab (PostgreSQL)', () => ({ ...labEnv(), DATABASE_SCHEMA: `events_${process.pid}_${Date.now().toString(36)}`, S3_BUCKET: 'movingdata-events-test', AZURE_CONTAINER: 'movingdata-events-test', GCS_BUCKET: 'movingdata-events-test' })],
];

describe.each(setups)('events on %s', (_label, environment) => {
  let app: App;
  let dataDir: string;
  let analyst: string;
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-events-'));
    app = await createApp(
      loadConfig({ ...environment(), MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: ADMIN, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent', PORT: '0', CONSISTENCY_SCAN_INTERVAL_S: '0', ALERT_LATENCY_MS: '100000' }),
    );
    const created = await app.api.inject({ method: 'POST', url: '/tokens', headers: admin, payload: { name: 'ana', roles: ['analytics'] } });
    analyst = created.json<{ token: string }>().token;
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const eventsOf = async (type: string, key: string) => {
    const log = app.context.metadata.eventLog;
    const all = [];
    for (let p = 0; p < 6; p += 1) all.push(...(await log.read(app.context.events.topics.access, p, 0n, 10_000)));
    return all.map((r) => JSON.parse(r.value) as Record<string, unknown>).filter((e) => e['type'] === type && e['key'] === key);
  };

  it('emits an access event per operation, in the audit transaction, and the statistics count each exactly once', async () => {
    const key = `stats/${Date.now()}.bin`;
    const body = Buffer.alloc(3000, 7);
    expect((await app.api.inject({ method: 'PUT', url: `/files/aws/${key}`, headers: admin, payload: body })).statusCode).toBe(201);
    for (let i = 0; i < 3; i += 1) {
      const got = await app.api.inject({ method: 'GET', url: `/files/aws/${key}`, headers: admin });
      expect(got.statusCode).toBe(200);
    }
    // Each read: read.started (with its audit entry) and read.completed (bytes, latency, outcome).
    const completed = await until('three read.completed events on the bus', async () => {
      const found = await eventsOf('read.completed', key);
      return found.length === 3 ? found : undefined;
    }, 15_000);
    for (const e of completed) {
      expect(e).toMatchObject({ schema: 1, location: 'aws', key, version: 1, bytes: 3000, outcome: 'ok', synthetic: false, principal: 'admin' });
      expect(typeof e['latency_ms']).toBe('number');
      expect(typeof e['event_id']).toBe('string');
    }
    expect(await eventsOf('read.started', key)).toHaveLength(3);
    const [write] = await eventsOf('write', key);
    expect(write).toMatchObject({ location: 'aws', key, version: 1, bytes: 3000, outcome: 'allowed' });
    // The audit trail and the outbox agree: one entry, one event, per operation.
    const audit = [];
    for await (const entry of app.context.audit.export()) if (entry.object_key === key) audit.push(entry.action);
    expect(audit.filter((a) => a === 'read')).toHaveLength(3);
    expect(audit.filter((a) => a === 'write')).toHaveLength(1);

    const summary = await until('the statistics of the file', async () => {
      const s = await app.context.metadata.accessStats.summary('aws', key);
      return s.days.reduce((a, d) => a + d.reads, 0) === 3 ? s : undefined;
    }, 15_000);
    expect(summary.days).toHaveLength(1);
    expect(summary.days[0]).toMatchObject({ reads: 3, writes: 1, bytesRead: 9000, bytesWritten: 3000 });
    expect(summary.lastReadAt).toBeInstanceOf(Date);
    expect(summary.lastWriteAt).toBeInstanceOf(Date);
    expect(summary.lastReadAt!.getTime()).toBeGreaterThanOrEqual(summary.lastWriteAt!.getTime());
    // Redelivery (a consumer restarted before its commit) counts nothing twice.
    const again = completed.map((e) => ({ eventId: String(e['event_id']), location: 'aws', key, at: new Date(String(e['ts'])), kind: 'read' as const, bytes: 3000, latencyMs: 1, spike: false, synthetic: false }));
    expect(await app.context.metadata.accessStats.apply(`${app.context.events.groups.stats}`, again)).toBe(0);
    expect((await app.context.metadata.accessStats.summary('aws', key)).days[0]?.reads).toBe(3);
  });

  it('takes sensor readings (ISO or epoch ms, one or a batch), scores them, and shows them in /stream/peek', async () => {
    const device = `dev-${Date.now().toString(36)}`;
    const one = await app.api.inject({ method: 'POST', url: '/stream/event', headers: { authorization: `Bearer ${analyst}` }, payload: { device_id: device, ts: '2015-01-01T00:00:00Z', value: 20.5 } });
    expect(one.statusCode).toBe(202);
    expect(one.json<{ accepted: number }>().accepted).toBe(1);
    const batch = Array.from({ length: 20 }, (_, i) => ({ device_id: device, ts: Date.UTC(2015, 0, 1, 0, i + 1), value: 20 + (i % 3) / 10 }));
    expect((await app.api.inject({ method: 'POST', url: '/stream/event', headers: admin, payload: { events: batch } })).statusCode).toBe(202);
    const peek = await until('21 scored readings of the device', async () => {
      const answer = await app.api.inject({ method: 'GET', url: `/stream/peek?device=${device}&limit=50`, headers: admin });
      const rows = answer.json<{ events: Array<{ device_id: string; value: number; anomaly_score: number; ts: string }> }>().events;
      return rows.length === 21 ? rows : undefined;
    }, 15_000);
    for (const row of peek) {
      expect(row.device_id).toBe(device);
      expect(row.anomaly_score).toBeGreaterThanOrEqual(0);
      expect(row.anomaly_score).toBeLessThanOrEqual(1);
    }
    // Newest first.
    expect(peek[0]!.ts).toBe(new Date(Date.UTC(2015, 0, 1, 0, 20)).toISOString());
  });

  it('refuses bad readings with 400 and a stable code, publishing nothing', async () => {
    const ends = async () => (await app.context.events.bus.lag('nobody', [app.context.events.topics.sensor])).reduce((a, l) => a + l.end, 0n);
    const before = await ends();
    const bad: Array<[string, unknown, string]> = [
      ['not JSON', '{"device_id": "x", ', 'invalid_argument'],
      ['a wrong type', { device_id: 'x', ts: '2015-01-01T00:00:00Z', value: 'hot' }, 'invalid_argument'],
      ['an unknown field', { device_id: 'x', ts: '2015-01-01T00:00:00Z', value: 1, colour: 'red' }, 'invalid_argument'],
      ['a timestamp that does not parse', { device_id: 'x', ts: 'yesterday', value: 1 }, 'invalid_argument'],
      ['a timestamp two days ahead', { device_id: 'x', ts: Date.now() + 2 * 86_400_000, value: 1 }, 'invalid_argument'],
      ['an empty batch', { events: [] }, 'invalid_argument'],
      ['an oversized batch', { events: Array.from({ length: 1001 }, () => ({ device_id: 'x', ts: 0, value: 1 })) }, 'invalid_argument'],
      ['one bad reading in a batch', { events: [{ device_id: 'x', ts: 0, value: 1 }, { device_id: '', ts: 0, value: 1 }] }, 'invalid_argument'],
    ];
    for (const [what, payload, code] of bad) {
      const answer = await app.api.inject({ method: 'POST', url: '/stream/event', headers: { ...admin, 'content-type': 'application/json' }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
      expect(answer.statusCode, what).toBe(400);
      expect(answer.json<{ error: { code: string } }>().error.code, what).toBe(code);
    }
    expect(await ends()).toBe(before);
  });

  it('a burst injects anomalies that raise alerts within the burst; alerts are listed, counted in /health and acknowledged', async () => {
    const burst = await app.api.inject({ method: 'POST', url: '/simulate/burst', headers: admin, payload: { events: 250 } });
    expect(burst.statusCode).toBe(202);
    const result = burst.json<{ readings: number; anomalies_injected_on: string[]; telemetry_error: string | null }>();
    expect(result.readings).toBe(250);
    expect(result.telemetry_error).toBeNull();
    expect(result.anomalies_injected_on.length).toBeGreaterThan(0);
    const alert = await until('an anomaly alert on a burst device', async () => {
      const answer = await app.api.inject({ method: 'GET', url: '/alerts?kind=anomaly&state=open', headers: admin });
      return answer.json<{ alerts: Array<{ id: string; subject: string }> }>().alerts.find((a) => result.anomalies_injected_on.includes(a.subject));
    }, 20_000);
    const health = (await app.api.inject({ method: 'GET', url: '/health' })).json<{ alerts: { open: number; by_kind: Record<string, number> } }>();
    expect(health.alerts.open).toBeGreaterThan(0);
    expect(health.alerts.by_kind['anomaly']).toBeGreaterThan(0);
    const acked = await app.api.inject({ method: 'POST', url: `/alerts/${alert.id}/ack`, headers: admin });
    expect(acked.statusCode).toBe(200);
    expect(acked.json<{ state: string; acked_by: string }>()).toMatchObject({ state: 'acknowledged', acked_by: 'admin' });
    expect((await app.api.inject({ method: 'POST', url: '/alerts/999999999/ack', headers: admin })).statusCode).toBe(404);
    // Bad burst sizes are 400.
    for (const events of [0, 10_001, 'many']) expect((await app.api.inject({ method: 'POST', url: '/simulate/burst', headers: admin, payload: { events } })).statusCode).toBe(400);
  });

  it('gives peek, metrics, bursts and alerts to operators only; any token may post telemetry', async () => {
    const ana = { authorization: `Bearer ${analyst}` };
    for (const [method, url] of [['GET', '/stream/peek'], ['GET', '/streaming/metrics'], ['GET', '/alerts'], ['POST', '/simulate/burst'], ['GET', '/metrics']] as const) {
      const answer = await app.api.inject({ method, url, headers: ana, ...(method === 'POST' ? { payload: {} } : {}) });
      expect(answer.statusCode, url).toBe(403);
    }
    expect((await app.api.inject({ method: 'GET', url: '/streaming/metrics' })).statusCode).toBe(401);
    const metrics = (await app.api.inject({ method: 'GET', url: '/streaming/metrics', headers: admin })).json<Record<string, unknown>>();
    expect(metrics).toMatchObject({ bus: 'embedded', broker_reachable: true, producer_ready: true });
    expect(Object.keys(metrics['consumer_lag'] as object)).toHaveLength(2);
    expect((metrics['outbox'] as { depth: number }).depth).toBeGreaterThanOrEqual(0);
    expect((metrics['events_in'] as Record<string, unknown>)[app.context.events.topics.sensor]).toBeDefined();
  });

  it("streams a live feed: access events of the caller's locations only, readings and alerts to operators", async () => {
    const address = await app.api.listen({ host: '127.0.0.1', port: 0 });
    const open = async (token: string) => {
      const controller = new AbortController();
      const response = await fetch(`${address}/stream/live`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const reader = response.body!.getReader();
      let text = '';
      void (async () => {
        for (;;) {
          const chunk: { value?: Uint8Array; done: boolean } = await reader.read().catch(() => ({ done: true }));
          if (chunk.done || chunk.value === undefined) return;
          text += new TextDecoder().decode(chunk.value);
        }
      })();
      return { text: () => text, close: () => controller.abort() };
    };
    const ana = await open(analyst);
    const ops = await open(ADMIN);
    try {
      const stamp = Date.now().toString(36);
      expect((await app.api.inject({ method: 'PUT', url: `/files/aws/live/${stamp}-aws`, headers: admin, payload: 'a' })).statusCode).toBe(201);
      expect((await app.api.inject({ method: 'PUT', url: `/files/gcp/live/${stamp}-gcp`, headers: admin, payload: 'g' })).statusCode).toBe(201);
      expect((await app.api.inject({ method: 'POST', url: '/stream/event', headers: admin, payload: { device_id: `live-${stamp}`, ts: Date.now(), value: 1 } })).statusCode).toBe(202);
      await until('both copies and the reading in the operator feed', async () => (ops.text().includes(`${stamp}-gcp`) && ops.text().includes(`live-${stamp}`) ? true : undefined), 15_000);
      await until("the aws copy in the analyst's feed", async () => (ana.text().includes(`${stamp}-aws`) ? true : undefined), 15_000);
      expect(ops.text()).toMatch(/event: access\ndata: .*-aws/);
      expect(ops.text()).toMatch(/event: reading\ndata: /);
      // The analyst may not see gcp, nor telemetry.
      expect(ana.text()).not.toContain(`${stamp}-gcp`);
      expect(ana.text()).not.toContain('event: reading');
    } finally {
      ana.close();
      ops.close();
    }
  });

  it('serves Prometheus metrics with events, outbox, lag, alerts and request durations by route pattern', async () => {
    const text = (await app.api.inject({ method: 'GET', url: '/metrics', headers: admin })).body;
    const sample = (name: string, labels: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((kv) => l.includes(kv)));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(sample('movingdata_events_total', `topic="${app.context.events.topics.sensor}",direction="in"`)).toBeGreaterThan(0);
    expect(sample('movingdata_consumer_lag', `topic="${app.context.events.topics.access}"`)).toBeGreaterThanOrEqual(0);
    expect(sample('movingdata_alerts', 'kind="anomaly"')).toBeGreaterThan(0);
    expect(sample('movingdata_http_request_duration_seconds_count', 'route="/files/:location/*"')).toBeGreaterThan(0);
    expect(text).toMatch(/^movingdata_outbox_depth \d+/m);
    expect(text).not.toContain('stats/');
  });
});

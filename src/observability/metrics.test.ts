/**
 * The metrics module through HTTP, as Prometheus sees it: a small Fastify app built the way the
 * control plane builds its own (error handler, the real auth plugin over an in-memory PGlite
 * store, the metrics plugin, a few dummy routes including the file API's wildcard route), whose
 * scrapes are parsed from the text exposition format and checked sample by sample.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessPolicy, DEFAULT_ALLOWED_ROLES } from '../access/policy.ts';
import { ensureDemoAdmin } from '../access/principals.ts';
import { generateToken, hashToken } from '../access/tokens.ts';
import { BEARER_SECURITY_SCHEME, authPlugin } from '../api/auth.ts';
import { registerErrorHandling } from '../api/errors.ts';
import { AuditTrail } from '../audit/audit-trail.ts';
import type { PartitionLag } from '../events/port.ts';
import type { MetadataStore } from '../metadata/index.ts';
import { openPgliteStore } from '../metadata/pglite/pglite-store.ts';
import { addStoreCollectors } from './collectors.ts';
import { Metrics, OTHER, UNMATCHED_ROUTE } from './metrics.ts';
import { metricsPlugin, metricsPortFromEnv, startMetricsListener } from './metrics-plugin.ts';

// ---- a parser for the Prometheus text exposition format (version 0.0.4) -----------------------

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly help: ReadonlyMap<string, string>;
  readonly type: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

function parseValue(text: string): number {
  // Prometheus reads these as Go's ParseFloat does: case-insensitively (the client writes `Nan`).
  switch (text.toLowerCase()) {
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'nan':
      return NaN;
    default: {
      const value = Number(text);
      if (text === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${JSON.stringify(text)}`);
      return value;
    }
  }
}

/** `{a="x",b="y\"z"}` from `start` (at `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (line[i] !== '}') {
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
    if (name === undefined || line[i + name.length] !== '=' || line[i + name.length + 1] !== '"') throw new Error(`bad label at ${i}: ${line}`);
    i += name.length + 2;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new Error(`unterminated label value: ${line}`);
      i += 1;
      if (c === '"') break;
      if (c === '\\') {
        const escaped = line[i];
        i += 1;
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else throw new Error(`bad escape \\${escaped}: ${line}`);
      } else {
        value += c;
      }
    }
    if (name in labels) throw new Error(`label ${name} twice: ${line}`);
    labels[name] = value;
    if (line[i] === ',') i += 1;
    else if (line[i] !== '}') throw new Error(`expected , or } at ${i}: ${line}`);
  }
  return { labels, end: i + 1 };
}

function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (comment === null) continue;
      const [, kind, name, rest] = comment as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (kind === 'HELP') help.set(name, rest);
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type: ${line}`);
        type.set(name, rest);
      }
      continue;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (name === undefined) throw new Error(`bad sample: ${line}`);
    let at = name.length;
    let labels: Record<string, string> = {};
    if (line[at] === '{') ({ labels, end: at } = parseLabels(line, at));
    if (line[at] !== ' ') throw new Error(`expected a space before the value: ${line}`);
    const [value, timestamp, ...extra] = line.slice(at + 1).trim().split(/\s+/);
    if (value === undefined || extra.length > 0 || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) throw new Error(`bad value: ${line}`);
    samples.push({ name, labels, value: parseValue(value) });
  }
  return { help, type, samples };
}

function matches(sample: Sample, name: string, labels: Readonly<Record<string, string>>): boolean {
  return sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v);
}

/** The samples of `name` whose labels include `labels`. */
function select(exposition: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
  return exposition.samples.filter((s) => matches(s, name, labels));
}

/** The one sample of `name` with exactly these labels, or 0 when there is none (a series not yet created). */
function value(exposition: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && matches(s, name, labels));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

describe('the exposition parser', () => {
  it('reads HELP, TYPE, labels with escapes, special values and timestamps, and refuses malformed lines', () => {
    const parsed = parseExposition(
      [
        '# HELP x_total Things, counted',
        '# TYPE x_total counter',
        'x_total{a="1",b="quote \\" backslash \\\\ newline \\n end"} 3',
        'y 4.5e1 1700000000000',
        'z{le="+Inf"} +Inf',
        '',
      ].join('\n'),
    );
    expect(parsed.help.get('x_total')).toBe('Things, counted');
    expect(parsed.type.get('x_total')).toBe('counter');
    expect(parsed.samples).toEqual([
      { name: 'x_total', labels: { a: '1', b: 'quote " backslash \\ newline \n end' }, value: 3 },
      { name: 'y', labels: {}, value: 45 },
      { name: 'z', labels: { le: '+Inf' }, value: Infinity },
    ]);
    for (const bad of ['x{a="1} 2', 'x{a=1} 2', 'x 2 3 4', 'x', 'x{a="1",a="2"} 1', '# TYPE x nonsense', 'x abc']) {
      expect(() => parseExposition(bad), bad).toThrow();
    }
  });
});

// ---- the app ----------------------------------------------------------------------------------

const LOCATIONS = ['aws', 'azure', 'gcp'];
const SECRET_KEY = 'payroll/2024/ceo-salary-7f3a.xlsx';

let store: MetadataStore;
let metrics: Metrics;
let app: FastifyInstance;
const adminToken = 'demo-admin-token-for-metrics-tests';
const operatorToken = generateToken();
const analystToken = generateToken();

async function buildApp(m: Metrics): Promise<FastifyInstance> {
  const instance = Fastify({ logger: false });
  registerErrorHandling(instance);
  await instance.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 'test', version: '0' }, components: { securitySchemes: { bearerAuth: { ...BEARER_SECURITY_SCHEME } } } } });
  await instance.register(authPlugin, { metadata: store, audit: new AuditTrail(store.audit), policy: new AccessPolicy(DEFAULT_ALLOWED_ROLES) });
  await instance.register(metricsPlugin, { metrics: m });
  instance.get('/ping', async () => ({ ok: true }));
  // Stands in for the file API: the wildcard carries the object key; a download is a transfer out.
  instance.get<{ Params: { location: string; '*': string } }>('/files/:location/*', async (request) => {
    const { location, '*': key } = request.params;
    m.observeTransfer(location, 'out', key.length, 0.002);
    return { location, key };
  });
  // A route in a child plugin (encapsulated), as the route files are: still timed.
  await instance.register(async (child) => {
    child.post('/items', async (_request, reply) => reply.code(201).send({ created: true }));
  });
  await instance.ready();
  return instance;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function scrape(target: FastifyInstance = app): Promise<Exposition> {
  const response = await target.inject({ method: 'GET', url: '/metrics', headers: bearer(operatorToken) });
  expect(response.statusCode, response.body).toBe(200);
  return parseExposition(response.body);
}

beforeAll(async () => {
  store = await openPgliteStore({ inMemory: true });
  await ensureDemoAdmin(store, adminToken);
  await store.principals.create({ name: 'operator', roles: ['operations'], tokenHash: hashToken(operatorToken) });
  await store.principals.create({ name: 'analyst', roles: ['analytics'], tokenHash: hashToken(analystToken) });
  metrics = new Metrics({ locations: LOCATIONS });
  app = await buildApp(metrics);
});
afterAll(async () => {
  await app?.close();
  await store?.close();
});

const DURATION = 'movingdata_http_request_duration_seconds';

describe('GET /metrics', () => {
  it('answers 401 without a token, 403 to a role that is not an operator, and the exposition format to admin and operations', async () => {
    const anonymous = await app.inject({ method: 'GET', url: '/metrics' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(anonymous.body).not.toContain('movingdata_');

    const analyst = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(analystToken) });
    expect(analyst.statusCode).toBe(403);
    expect(analyst.body).not.toContain('movingdata_');
    const denials = await store.audit.list({ limit: 1000 });
    expect(denials.some((e) => e.principal === 'analyst' && e.action === 'denied' && (e.details as { attempted?: string }).attempted === 'metrics_read')).toBe(true);

    for (const token of [operatorToken, adminToken]) {
      const response = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(token) });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe(metrics.contentType);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const parsed = parseExposition(response.body);
      expect(parsed.type.get(DURATION)).toBe('histogram');
      // Process metrics, prefixed.
      expect(parsed.type.get('movingdata_process_cpu_seconds_total')).toBe('counter');
      expect([...parsed.type.keys()].every((name) => name.startsWith('movingdata_')), [...parsed.type.keys()].join(' ')).toBe(true);
    }
  });

  it('is in the OpenAPI document under operations, with a text/plain answer and bearer security', async () => {
    const document = app.swagger() as unknown as { paths: Record<string, Record<string, { tags?: string[]; security?: unknown[]; responses: Record<string, { content?: Record<string, unknown> }> }>> };
    const operation = document.paths['/metrics']?.['get'];
    expect(operation?.tags).toEqual(['operations']);
    expect(operation?.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(operation?.responses['200']?.content ?? {})).toEqual(['text/plain']);
  });
});

describe('the request duration histogram', () => {
  it('counts each request once under its route pattern, method and status', async () => {
    const before = await scrape();
    const n = 7;
    for (let i = 0; i < n; i += 1) {
      const response = await app.inject({ method: 'GET', url: `/files/aws/${encodeURIComponent(SECRET_KEY)}-${i}` });
      expect(response.statusCode).toBe(200);
    }
    for (let i = 0; i < 3; i += 1) expect((await app.inject({ method: 'POST', url: '/items' })).statusCode).toBe(201);
    await app.inject({ method: 'GET', url: '/ping' });
    const after = await scrape();

    const files = { method: 'GET', route: '/files/:location/*', status: '200' };
    expect(value(after, `${DURATION}_count`, files) - value(before, `${DURATION}_count`, files)).toBe(n);
    const infBucket = { ...files, le: '+Inf' };
    expect(value(after, `${DURATION}_bucket`, infBucket) - value(before, `${DURATION}_bucket`, infBucket)).toBe(n);
    expect(value(after, `${DURATION}_sum`, files)).toBeGreaterThan(value(before, `${DURATION}_sum`, files));
    const items = { method: 'POST', route: '/items', status: '201' };
    expect(value(after, `${DURATION}_count`, items) - value(before, `${DURATION}_count`, items)).toBe(3);
    const ping = { method: 'GET', route: '/ping', status: '200' };
    expect(value(after, `${DURATION}_count`, ping) - value(before, `${DURATION}_count`, ping)).toBe(1);
    // Buckets are cumulative.
    const buckets = select(after, `${DURATION}_bucket`, files).map((s) => s.value);
    expect(buckets.length).toBeGreaterThan(5);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('never puts the raw URL or an object key in a label: unmatched requests are "unmatched", refused ones keep their pattern', async () => {
    const before = await scrape();
    expect((await app.inject({ method: 'GET', url: `/nowhere/${encodeURIComponent(SECRET_KEY)}` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/files/gcp/${SECRET_KEY}` })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/metrics?key=${encodeURIComponent(SECRET_KEY)}` })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: `/files/aws/${SECRET_KEY}` })).statusCode).toBe(404);
    const response = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(operatorToken) });
    const after = parseExposition(response.body);

    for (const fragment of ['ceo-salary', 'payroll', 'nowhere', '%2F', '?key']) expect(response.body).not.toContain(fragment);
    for (const sample of after.samples) {
      for (const label of Object.values(sample.labels)) expect(label).not.toMatch(/salary|payroll|nowhere/);
    }
    const unmatched = { method: 'GET', route: UNMATCHED_ROUTE, status: '404' };
    expect(value(after, `${DURATION}_count`, unmatched) - value(before, `${DURATION}_count`, unmatched)).toBe(1);
    const unmatchedDelete = { method: 'DELETE', route: UNMATCHED_ROUTE, status: '404' };
    expect(value(after, `${DURATION}_count`, unmatchedDelete) - value(before, `${DURATION}_count`, unmatchedDelete)).toBe(1);
    const refused = { method: 'GET', route: '/metrics', status: '401' };
    expect(value(after, `${DURATION}_count`, refused) - value(before, `${DURATION}_count`, refused)).toBe(1);
    // Every route label is a registered pattern or "unmatched".
    const routes = new Set(select(after, `${DURATION}_count`).map((s) => s.labels['route']));
    expect([...routes].every((r) => r !== undefined && ['/files/:location/*', '/items', '/ping', '/metrics', UNMATCHED_ROUTE].includes(r)), [...routes].join(' ')).toBe(true);
  });
});

describe('label values', () => {
  it('map a location that is not configured to "other" (transfers from a hostile URL, drift)', async () => {
    const before = await scrape();
    for (const location of ['evil-location-1', 'evil-location-2', 'a b', 'AWS']) {
      expect((await app.inject({ method: 'GET', url: `/files/${encodeURIComponent(location)}/k` })).statusCode).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/files/azure/abc' })).statusCode).toBe(200);
    const after = await scrape();
    const bytes = 'movingdata_transfer_bytes_total';
    expect(value(after, bytes, { location: OTHER, direction: 'out' }) - value(before, bytes, { location: OTHER, direction: 'out' })).toBe(4);
    expect(value(after, bytes, { location: 'azure', direction: 'out' }) - value(before, bytes, { location: 'azure', direction: 'out' })).toBe(3);
    expect(value(after, 'movingdata_transfer_seconds_count', { location: OTHER, direction: 'out' }) - value(before, 'movingdata_transfer_seconds_count', { location: OTHER, direction: 'out' })).toBe(4);
    const locations = new Set(select(after, bytes).map((s) => s.labels['location']));
    expect([...locations].every((l) => l !== undefined && [...LOCATIONS, OTHER].includes(l)), [...locations].join(' ')).toBe(true);

    const m = new Metrics({ locations: LOCATIONS, processMetrics: false });
    m.setDrift({ aws: { missing: 2, orphan: 1, bogus: 5 }, nowhere: { missing: 3 }, elsewhere: { missing: 4 }, gcp: null });
    const drift = parseExposition(await m.scrape());
    expect(value(drift, 'movingdata_drift_objects', { location: 'aws', kind: 'missing' })).toBe(2);
    expect(value(drift, 'movingdata_drift_objects', { location: 'aws', kind: OTHER })).toBe(5);
    // Two unknown locations add up in one series.
    expect(value(drift, 'movingdata_drift_objects', { location: OTHER, kind: 'missing' })).toBe(7);
    expect(select(drift, 'movingdata_drift_objects')).toHaveLength(4);
  });

  it('admit a bounded number of distinct values per label, and nothing that does not look like an identifier', async () => {
    const m = new Metrics({ locations: LOCATIONS, processMetrics: false });
    m.countEvents('audit', 'sideways' as 'in', 4);
    for (let i = 0; i < 1000; i += 1) m.countEvents(`topic-${i}`, 'out');
    m.countEvents('access events', 'in', 2);
    m.countEvents('{"x":1}', 'in', 3);
    m.countAnomalies('thermostat');
    m.countAnomalies(undefined, 2);
    for (let i = 0; i < 100; i += 1) m.countAnomalies(`device-${i}`);
    m.observeRequest('GET', '/ok', 200, 0.01);
    m.observeRequest('get', `/files/aws/${'x'.repeat(300)}`, 999, 0.01);
    m.observeRequest('GET', 'no-leading-slash key', 200, 0.01);
    const parsed = parseExposition(await m.scrape());

    const events = select(parsed, 'movingdata_events_total');
    expect(events.length).toBeLessThanOrEqual(64 + 3);
    expect(events.reduce((sum, s) => sum + s.value, 0)).toBe(1000 + 2 + 3 + 4);
    expect(value(parsed, 'movingdata_events_total', { topic: OTHER, direction: 'out' })).toBe(1000 - 63);
    expect(value(parsed, 'movingdata_events_total', { topic: OTHER, direction: 'in' })).toBe(5);
    expect(value(parsed, 'movingdata_events_total', { topic: 'audit', direction: OTHER })).toBe(4);

    const anomalies = select(parsed, 'movingdata_anomalies_total');
    expect(anomalies.length).toBeLessThanOrEqual(33 + 1);
    expect(value(parsed, 'movingdata_anomalies_total', { device_kind: 'thermostat' })).toBe(1);
    expect(value(parsed, 'movingdata_anomalies_total', { device_kind: 'unknown' })).toBe(2);
    expect(anomalies.reduce((sum, s) => sum + s.value, 0)).toBe(103);

    expect(value(parsed, `${DURATION}_count`, { method: 'GET', route: '/ok', status: '200' })).toBe(1);
    expect(value(parsed, `${DURATION}_count`, { method: 'GET', route: OTHER, status: OTHER })).toBe(1);
    expect(value(parsed, `${DURATION}_count`, { method: 'GET', route: OTHER, status: '200' })).toBe(1);
  });
});

describe('scrape-time collectors', () => {
  it('fill the gauges before each scrape; one that throws or hangs does not fail the scrape and is counted', async () => {
    const m = new Metrics({ locations: LOCATIONS, processMetrics: false, collectorTimeoutMs: 50 });
    const errors: Array<[string, string]> = [];
    const m2 = new Metrics({ locations: LOCATIONS, processMetrics: false, collectorTimeoutMs: 50, onCollectorError: (name, reason) => errors.push([name, reason]) });
    const target = await buildApp(m2);
    try {
      let good = 0;
      let hungStarts = 0;
      for (const instance of [m, m2]) {
        instance.addCollector(
          async () => {
            good += 1;
            instance.setJobs({ replicate: { queued: 2, running: 1, succeeded: 5, failed: 0, dead: 1 }, repair: { queued: good } });
            instance.setJobQueue({ depth: 3, oldestAgeSeconds: 12.5 });
          },
          { name: 'jobs' },
        );
        instance.addCollector(
          async () => {
            throw new Error('database down');
          },
          { name: 'broken' },
        );
        instance.addCollector(
          () => {
            hungStarts += 1;
            return new Promise<void>(() => undefined);
          },
          { name: 'hung' },
        );
      }

      const started = performance.now();
      const first = await scrape(target);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(value(first, 'movingdata_jobs', { kind: 'replicate', state: 'queued' })).toBe(2);
      expect(value(first, 'movingdata_jobs', { kind: 'replicate', state: 'dead' })).toBe(1);
      expect(value(first, 'movingdata_job_queue_depth')).toBe(3);
      expect(value(first, 'movingdata_job_queue_oldest_age_seconds')).toBe(12.5);
      expect(value(first, 'movingdata_metrics_collector_errors_total', { collector: 'broken', reason: 'error' })).toBe(1);
      expect(value(first, 'movingdata_metrics_collector_errors_total', { collector: 'hung', reason: 'timeout' })).toBe(1);
      expect(value(first, 'movingdata_metrics_collector_errors_total', { collector: 'jobs', reason: 'error' })).toBe(0);
      expect(errors).toEqual([
        ['broken', 'error'],
        ['hung', 'timeout'],
      ]);

      const second = await scrape(target);
      expect(value(second, 'movingdata_metrics_collector_errors_total', { collector: 'broken', reason: 'error' })).toBe(2);
      expect(value(second, 'movingdata_metrics_collector_errors_total', { collector: 'hung', reason: 'timeout' })).toBe(2);
      // The hung run is waited on again, not started a second time.
      expect(hungStarts).toBe(1);

      // The same through `scrape()` directly, and concurrent scrapes share one round.
      const [a, b] = await Promise.all([m.scrape(), m.scrape()]);
      expect(a).toBe(b);
      const direct = parseExposition(a);
      expect(value(direct, 'movingdata_metrics_collector_errors_total', { collector: 'broken', reason: 'error' })).toBe(1);
      expect(value(direct, 'movingdata_jobs', { kind: 'repair', state: 'queued' })).toBeGreaterThan(0);
    } finally {
      await target.close();
    }
  });

  it('replace the previous snapshot: series that are gone disappear, and a removed collector no longer runs', async () => {
    const m = new Metrics({ locations: LOCATIONS, processMetrics: false });
    let round = 0;
    const remove = m.addCollector(async () => {
      round += 1;
      m.setJobs(round === 1 ? { replicate: { queued: 1 }, scan: { running: 1 } } : { replicate: { queued: 4 } });
      m.setAlerts(round === 1 ? { drift: { firing: 2 }, lag: { firing: 1 } } : { drift: { resolved: 2 } });
      m.setOutbox({ depth: round * 10, oldestAgeSeconds: Number.NaN });
    });
    // What `EventBus.lag` returns, per partition.
    const partitions: PartitionLag[] = [
      { topic: 'access', partition: 0, committed: 7n, end: 10n, lag: 3n },
      { topic: 'access', partition: 1, committed: 0n, end: 4n, lag: 4n },
    ];
    m.setConsumerLag('counter', partitions);
    m.setConsumerLag('scorer', [{ topic: 'telemetry', lag: 10 }]);
    const first = parseExposition(await m.scrape());
    expect(select(first, 'movingdata_jobs')).toHaveLength(2);
    expect(value(first, 'movingdata_alerts', { kind: 'lag', state: 'firing' })).toBe(1);
    expect(value(first, 'movingdata_outbox_depth')).toBe(10);
    expect(value(first, 'movingdata_outbox_oldest_age_seconds')).toBe(0);
    expect(value(first, 'movingdata_consumer_lag', { group: 'counter', topic: 'access' })).toBe(7);
    expect(value(first, 'movingdata_consumer_lag', { group: 'scorer', topic: 'telemetry' })).toBe(10);

    m.setConsumerLag('counter', [{ topic: 'access', lag: 1n }]);
    const second = parseExposition(await m.scrape());
    expect(select(second, 'movingdata_jobs')).toEqual([{ name: 'movingdata_jobs', labels: { kind: 'replicate', state: 'queued' }, value: 4 }]);
    expect(select(second, 'movingdata_alerts')).toEqual([{ name: 'movingdata_alerts', labels: { kind: 'drift', state: 'resolved' }, value: 2 }]);
    expect(value(second, 'movingdata_consumer_lag', { group: 'counter', topic: 'access' })).toBe(1);
    // Another group's report stays.
    expect(value(second, 'movingdata_consumer_lag', { group: 'scorer', topic: 'telemetry' })).toBe(10);

    remove();
    await m.scrape();
    expect(round).toBe(2);
  });
});

describe('two apps in one process', () => {
  it('each have their own registry: no "already registered" error, no shared values', async () => {
    const a = new Metrics({ locations: LOCATIONS });
    const b = new Metrics({ locations: LOCATIONS });
    a.observeTransfer('aws', 'in', 100, 0.1);
    const pa = parseExposition(await a.scrape());
    const pb = parseExposition(await b.scrape());
    expect(value(pa, 'movingdata_transfer_bytes_total', { location: 'aws', direction: 'in' })).toBe(100);
    expect(value(pb, 'movingdata_transfer_bytes_total', { location: 'aws', direction: 'in' })).toBe(0);
    expect(pb.type.get('movingdata_process_cpu_seconds_total')).toBe('counter');
  });
});

describe('the loopback listener', () => {
  it('serves the same metrics without authentication on 127.0.0.1 only', async () => {
    const listener = await startMetricsListener(metrics, 0);
    try {
      expect(listener.port).toBeGreaterThan(0);
      const url = `http://127.0.0.1:${listener.port}/metrics`;
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(metrics.contentType);
      const fromListener = parseExposition(await response.text());
      const fromApi = await scrape();
      // The same families; the same values where nothing moved between the two scrapes.
      expect([...fromListener.type.keys()].sort()).toEqual([...fromApi.type.keys()].sort());
      for (const labels of [{ location: OTHER, direction: 'out' }, { location: 'aws', direction: 'out' }]) {
        expect(value(fromListener, 'movingdata_transfer_bytes_total', labels)).toBe(value(fromApi, 'movingdata_transfer_bytes_total', labels));
      }
      expect(value(fromListener, 'movingdata_transfer_bytes_total', { location: 'aws', direction: 'out' })).toBeGreaterThan(0);

      expect((await fetch(`http://127.0.0.1:${listener.port}/other`)).status).toBe(404);
      expect((await fetch(url, { method: 'POST' })).status).toBe(405);
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');

      // Not on any other interface.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((i) => i !== undefined && !i.internal && i.family === 'IPv4');
      if (external !== undefined) {
        const reached = await new Promise<boolean>((resolve) => {
          const socket = connect({ host: external.address, port: listener.port });
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        });
        expect(reached).toBe(false);
      }
    } finally {
      await listener.close();
    }
    await expect(fetch(`http://127.0.0.1:${listener.port}/metrics`)).rejects.toThrow();
  });

  it('takes its port from MOVINGDATA_METRICS_PORT, when set', () => {
    expect(metricsPortFromEnv({})).toBeUndefined();
    expect(metricsPortFromEnv({ MOVINGDATA_METRICS_PORT: ' ' })).toBeUndefined();
    expect(metricsPortFromEnv({ MOVINGDATA_METRICS_PORT: '9464' })).toBe(9464);
    expect(() => metricsPortFromEnv({ MOVINGDATA_METRICS_PORT: '70000' })).toThrow(/MOVINGDATA_METRICS_PORT/);
    expect(() => metricsPortFromEnv({ MOVINGDATA_METRICS_PORT: 'nine' })).toThrow(/MOVINGDATA_METRICS_PORT/);
  });
});

describe('the store collectors', () => {
  it('read jobs by kind and state, the queue, and drift from the metadata store at scrape time', async () => {
    const own = await openPgliteStore({ inMemory: true });
    try {
      const m = new Metrics({ locations: LOCATIONS, processMetrics: false });
      const clock = { now: Date.now() };
      const remove = addStoreCollectors(m, own, () => clock.now);

      const empty = parseExposition(await m.scrape());
      expect(select(empty, 'movingdata_jobs')).toEqual([]);
      expect(value(empty, 'movingdata_job_queue_depth')).toBe(0);
      expect(value(empty, 'movingdata_job_queue_oldest_age_seconds')).toBe(0);

      const first = await own.jobs.enqueue({ kind: 'replicate', payload: { n: 1 } });
      await own.jobs.enqueue({ kind: 'replicate', payload: { n: 2 } });
      await own.jobs.enqueue({ kind: 'repair', payload: { n: 3 } });
      const [claimed] = await own.jobs.claim('worker-1', { kinds: ['repair'], leaseMs: 60_000 });
      expect(claimed?.kind).toBe('repair');
      await own.consistency.save('aws', { location: 'aws', drift: { missing: 2, orphan: 1, differing: 0 } }, false);
      await own.consistency.save('retired-location', { location: 'retired-location', drift: { missing: 5 } }, false);
      clock.now = first.job.createdAt.getTime() + 90_000;

      const parsed = parseExposition(await m.scrape());
      expect(value(parsed, 'movingdata_jobs', { kind: 'replicate', state: 'queued' })).toBe(2);
      expect(value(parsed, 'movingdata_jobs', { kind: 'replicate', state: 'running' })).toBe(0);
      expect(value(parsed, 'movingdata_jobs', { kind: 'repair', state: 'running' })).toBe(1);
      expect(select(parsed, 'movingdata_jobs', { kind: 'replicate' }).map((s) => s.labels['state']).sort()).toEqual(['dead', 'failed', 'queued', 'running', 'succeeded']);
      expect(value(parsed, 'movingdata_job_queue_depth')).toBe(2);
      expect(value(parsed, 'movingdata_job_queue_oldest_age_seconds')).toBeCloseTo(90, 3);
      expect(value(parsed, 'movingdata_drift_objects', { location: 'aws', kind: 'missing' })).toBe(2);
      expect(value(parsed, 'movingdata_drift_objects', { location: 'aws', kind: 'orphan' })).toBe(1);
      expect(value(parsed, 'movingdata_drift_objects', { location: OTHER, kind: 'missing' })).toBe(5);
      expect(select(parsed, 'movingdata_metrics_collector_errors_total')).toEqual([]);

      // A store that fails is counted, and the scrape still answers.
      remove();
      await own.close();
      addStoreCollectors(m, own);
      const failed = parseExposition(await m.scrape());
      expect(value(failed, 'movingdata_metrics_collector_errors_total', { collector: 'jobs', reason: 'error' })).toBe(1);
      expect(value(failed, 'movingdata_metrics_collector_errors_total', { collector: 'drift', reason: 'error' })).toBe(1);
    } finally {
      await own.close();
    }
  });
});

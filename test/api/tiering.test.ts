/**
 * Predictive tiering through the API, on embedded defaults (local disk priced as aws, azure,
 * gcp) and on the lab (PostgreSQL; MinIO priced as S3 Standard; Azurite with Hot, Cool, Cold and
 * Archive): recommendations with reasons and costs, the tiering run (dry run records decisions
 * only; a real run changes the class through the storage port, audited, with its decision
 * applied), a move to a location with the same roles when the file's own cannot offer the tier,
 * pins, an archived file answering 409 until restored, the seed's POST /predictive/train, and
 * the model endpoint.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { backdateFile } from '../../src/metadata/sql/testing.ts';
import { labEnv } from '../lab.ts';

const ADMIN = 'tiering-admin-token-0123456789';
const MiB = 1024 * 1024;

interface Rec {
  key: string;
  location: string;
  tier: string;
  recommended: string;
  change: string;
  to_location: string;
  confidence: number;
  proposed: string;
  monthly_cost: number;
  expected_monthly_saving: number;
  reasons: Array<{ rule: string; verdict: string; detail: string }>;
  features: Record<string, number | null>;
}

const run = `${process.pid}-${Date.now().toString(36)}`;
const setups: Array<[string, () => Record<string, string>, boolean]> = [
  ['embedded defaults', () => ({}), false],
  [
    'the lab (PostgreSQL, MinIO, Azurite)',
    () => ({
      ...labEnv(),
      DATABASE_SCHEMA: `tiering_${run.replace(/-/g, '_')}`,
      S3_BUCKET: 'movingdata-tiering-test',
      AZURE_CONTAINER: 'movingdata-tiering-test',
      GCS_BUCKET: 'movingdata-tiering-test',
      // aws and azure allow the same roles: a move between them does not change who can read.
      S3_ALLOWED_ROLES: 'admin,analytics',
      AZURE_ALLOWED_ROLES: 'admin,analytics',
      // Egress (S3 → Azure) is paid back by Azure Cold's storage only over months.
      TIERING_HORIZON_DAYS: '365',
    }),
    true,
  ],
];

describe.each(setups)('tiering on %s', (_label, environment, lab) => {
  let app: App;
  let dataDir: string;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const prefix = `tier-${run}/`;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-tiering-'));
    app = await createApp(
      loadConfig({
        ...environment(),
        MOVINGDATA_DEMO: '1',
        MOVINGDATA_ADMIN_TOKEN: ADMIN,
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: 'silent',
        PORT: '0',
        CONSISTENCY_SCAN_INTERVAL_S: '0',
        TIERING_INTERVAL_S: '0',
        TIERING_HYSTERESIS_DAYS: '0',
        // The statistics here are written by the test, at the days it chooses.
        MOVINGDATA_CONSUMERS: '0',
      }),
    );
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const put = async (location: string, key: string, size: number): Promise<void> => {
    const res = await app.api.inject({ method: 'PUT', url: `/files/${location}/${key}`, headers: admin, payload: Buffer.alloc(size, 3) });
    expect(res.statusCode, res.body).toBe(201);
  };
  const recommendations = async (query: string): Promise<Rec[]> => {
    const res = await app.api.inject({ method: 'GET', url: `/predictive/recommendations?${query}`, headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ items: Rec[] }>().items;
  };
  /** Reads of a file on each of `days` days ago (what the statistics consumer would have applied). */
  let eventNo = 0;
  const readsOn = async (location: string, key: string, daysAgo: readonly number[], perDay: number, size: number): Promise<void> => {
    const events = daysAgo.flatMap((d) =>
      Array.from({ length: perDay }, () => ({ eventId: `t-${run}-${eventNo++}`, location, key, at: new Date(Date.now() - d * 86_400_000), kind: 'read' as const, bytes: size, latencyMs: 5, spike: false, synthetic: false })),
    );
    await app.context.metadata.accessStats.apply('test', events);
  };

  it('recommends per file with its tier, cost, confidence and the reasons; a busy file stays hot, a small one is held by its minimum billable size (S3) or by the payback rule', async () => {
    const location = lab ? 'azure' : 'aws';
    await put(location, `${prefix}busy.bin`, MiB);
    await put(location, `${prefix}small.txt`, 1000);
    await put(location, `${prefix}idle.bin`, MiB);
    for (const key of ['busy.bin', 'small.txt', 'idle.bin']) await backdateFile(app.context.metadata, `${prefix}${key}`, 200);
    await readsOn(location, `${prefix}busy.bin`, Array.from({ length: 30 }, (_, i) => i), 20, MiB);
    const items = await recommendations(`location=${location}&prefix=${encodeURIComponent(prefix)}`);
    expect(items.map((i) => i.key)).toEqual([`${prefix}busy.bin`, `${prefix}idle.bin`, `${prefix}small.txt`]);
    const [busy, idle, small] = items as [Rec, Rec, Rec];
    expect(busy).toMatchObject({ tier: 'hot', recommended: 'hot', change: 'none' });
    expect(busy.features['reads_30d']).toBe(600);
    expect(busy.features['age_days']).toBeGreaterThanOrEqual(199);
    expect(busy.monthly_cost).toBeGreaterThan(0);
    expect(idle.features['reads_90d']).toBe(0);
    expect(idle.recommended).not.toBe('hot');
    expect(idle.change).toBe('tier');
    expect(idle.expected_monthly_saving).toBeGreaterThan(0);
    expect(idle.confidence).toBeGreaterThan(0);
    expect(idle.reasons.map((r) => r.rule)).toEqual(['pin', 'archive', 'latency', 'min_size', 'confidence', 'hysteresis', 'payback']);
    expect(small.recommended).toBe('hot');
    // S3 and GCS bill a minimum size below which colder classes cost more; Azure has none, but a
    // 1,000-byte file cannot earn back a move's fee.
    const held = small.reasons.filter((r) => (r.rule === 'min_size' && r.verdict === 'applied') || (r.rule === 'payback' && r.verdict === 'blocked'));
    expect(held.length > 0 || small.proposed === 'hot', JSON.stringify(small.reasons)).toBe(true);
  });

  it('a dry run records decisions and changes nothing; a real run changes the class through the store, audited, its decision applied', async () => {
    const location = lab ? 'azure' : 'aws';
    const dry = await app.api.inject({ method: 'POST', url: '/tiering/run', headers: admin, payload: { dry_run: true, locations: [location], prefix } });
    expect(dry.statusCode, dry.body).toBe(200);
    const dryReport = dry.json<{ dry_run: boolean; decisions: Array<{ key: string; state: string; to_tier: string }> }>();
    expect(dryReport.dry_run).toBe(true);
    expect(dryReport.decisions.map((d) => [d.key, d.state])).toEqual([[`${prefix}idle.bin`, 'dry_run']]);
    const before = await app.api.inject({ method: 'GET', url: `/files?prefix=${encodeURIComponent(`${prefix}idle`)}`, headers: admin });
    const tierBefore = before.json<{ items: Array<{ replicas: Array<{ location: string; tier: string | null }> }> }>().items[0]!.replicas.find((r) => r.location === location)!.tier;

    const real = await app.api.inject({ method: 'POST', url: '/tiering/run', headers: admin, payload: { dry_run: false, locations: [location], prefix } });
    expect(real.statusCode, real.body).toBe(200);
    const [decision] = real.json<{ decisions: Array<{ id: string; state: string; to_tier: string; job_id: string }> }>().decisions;
    expect(decision).toMatchObject({ state: 'queued' });
    // The job runs on the server's own worker.
    let state = '';
    for (let i = 0; i < 200 && state !== 'applied'; i += 1) {
      const got = await app.api.inject({ method: 'GET', url: `/tiering/decisions?location=${location}&key=${encodeURIComponent(`${prefix}idle.bin`)}`, headers: admin });
      state = got.json<{ decisions: Array<{ id: string; state: string; error: string | null }> }>().decisions.find((d) => d.id === decision!.id)?.state ?? '';
      if (state === 'failed') throw new Error(got.body);
      if (state !== 'applied') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('applied');
    const after = await app.api.inject({ method: 'GET', url: `/files?prefix=${encodeURIComponent(`${prefix}idle`)}`, headers: admin });
    const replica = after.json<{ items: Array<{ replicas: Array<{ location: string; tier: string | null; checksums: Record<string, string> }> }> }>().items[0]!.replicas.find((r) => r.location === location)!;
    expect(replica.tier).not.toBe(tierBefore);
    // The store itself says so (Azure's access tier; the local store's metadata).
    const store = app.context.stores.get(location)!;
    const objectKey = (await app.context.metadata.findFileByKey(`${prefix}idle.bin`))!;
    const replicas = await app.context.metadata.listReplicasOfVersion(objectKey.id, 1);
    const head = await store.inner.head(replicas.find((r) => r.location === location)!.objectKey);
    expect(head.tier).toBe(replica.tier);
    // Audited as a policy decision, which is also the tier.change access event.
    const audit = [];
    for await (const entry of app.context.audit.export()) if (entry.object_key === `${prefix}idle.bin` && entry.action === 'policy') audit.push(entry);
    expect(audit.at(-1)?.details).toMatchObject({ decision: `tier:${replica.tier}`, decision_id: decision!.id });
    // The file still reads back, byte for byte.
    const got = await app.api.inject({ method: 'GET', url: `/files/${location}/${prefix}idle.bin`, headers: admin });
    expect(got.statusCode).toBe(200);
    expect(got.rawPayload.equals(Buffer.alloc(MiB, 3))).toBe(true);
    // Now in its tier for 0 days: the next recommendation changes nothing.
    const again = await recommendations(`location=${location}&prefix=${encodeURIComponent(`${prefix}idle`)}`);
    expect(again[0]).toMatchObject({ change: 'none' });
  });

  it('a pin decides (archive included); an archived file answers 409 archived until restored', async () => {
    const location = lab ? 'azure' : 'aws';
    const key = `${prefix}pinned/report.csv`;
    await put(location, key, 200_000);
    const pin = await app.api.inject({ method: 'PUT', url: '/tiering/pins', headers: admin, payload: { location: '*', prefix: `${prefix}pinned/`, tier: 'archive' } });
    expect(pin.statusCode, pin.body).toBe(200);
    const [rec] = await recommendations(`location=${location}&prefix=${encodeURIComponent(`${prefix}pinned/`)}`);
    expect(rec).toMatchObject({ recommended: 'archive', change: 'tier' });
    expect(rec!.reasons[0]).toMatchObject({ rule: 'pin', verdict: 'applied' });
    const changed = await app.api.inject({ method: 'POST', url: '/tiering/change', headers: admin, payload: { location, key, tier: 'archive' } });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json<{ decision: { state: string } }>().decision.state).toBe('applied');
    const read = await app.api.inject({ method: 'GET', url: `/files/${location}/${key}`, headers: admin });
    expect(read.statusCode).toBe(409);
    expect(read.json<{ error: { code: string } }>().error.code).toBe('archived');
    const unpin = await app.api.inject({ method: 'DELETE', url: `/tiering/pins?location=*&prefix=${encodeURIComponent(`${prefix}pinned/`)}`, headers: admin });
    expect(unpin.json()).toEqual({ deleted: true });
    // Without a pin the rules never take it out of archive on their own.
    const [held] = await recommendations(`location=${location}&prefix=${encodeURIComponent(`${prefix}pinned/`)}`);
    expect(held).toMatchObject({ tier: 'archive', recommended: 'archive', change: 'none' });
    const restored = await app.api.inject({ method: 'POST', url: '/tiering/restore', headers: admin, payload: { location, key } });
    expect(restored.statusCode, restored.body).toBe(200);
    const back = await app.api.inject({ method: 'GET', url: `/files/${location}/${key}`, headers: admin });
    expect(back.statusCode).toBe(200);
    expect(back.rawPayload.length).toBe(200_000);
  });

  it('costs per location and tier add up the recommendations; bad input gets stable codes', async () => {
    const costs = await app.api.inject({ method: 'GET', url: '/tiering/costs', headers: admin });
    expect(costs.statusCode, costs.body).toBe(200);
    const body = costs.json<{ locations: Array<{ location: string; files: number; monthly_cost: number; tiers: Record<string, { files: number }> }>; total: { files: number } }>();
    const location = lab ? 'azure' : 'aws';
    const row = body.locations.find((l) => l.location === location)!;
    expect(row.files).toBeGreaterThanOrEqual(4);
    expect(Object.values(row.tiers).reduce((s, t) => s + t.files, 0)).toBe(row.files);
    expect(body.total.files).toBe(body.locations.reduce((s, l) => s + l.files, 0));
    const bad = await app.api.inject({ method: 'POST', url: '/tiering/change', headers: admin, payload: { location, key: `${prefix}nope`, tier: 'cold' } });
    expect(bad.statusCode).toBe(404);
    const wrongTier = await app.api.inject({ method: 'POST', url: '/tiering/change', headers: admin, payload: { location, key: `${prefix}idle.bin`, tier: 'lukewarm' } });
    expect(wrongTier.statusCode).toBe(400);
    const cursor = await app.api.inject({ method: 'GET', url: '/predictive/recommendations?cursor=bm9wZQ', headers: admin });
    expect(cursor.json<{ error: { code: string } }>().error.code).toBe('invalid_cursor');
  });

  it.runIf(lab)('a file whose location offers no colder tier moves to one with the same roles (MinIO → Azurite), audited, its decision applied', async () => {
    const key = `${prefix}move/idle.bin`;
    await put('aws', key, MiB);
    await backdateFile(app.context.metadata, key, 200);
    const [rec] = await recommendations(`location=aws&prefix=${encodeURIComponent(`${prefix}move/`)}`);
    expect(rec).toMatchObject({ change: 'move', to_location: 'azure' });
    const real = await app.api.inject({ method: 'POST', url: '/tiering/run', headers: admin, payload: { dry_run: false, locations: ['aws'], prefix: `${prefix}move/` } });
    const [decision] = real.json<{ decisions: Array<{ id: string; change: string }> }>().decisions;
    expect(decision).toMatchObject({ change: 'move' });
    let state = '';
    for (let i = 0; i < 300 && state !== 'applied'; i += 1) {
      const d = await app.context.metadata.tiering.getDecision(decision!.id);
      state = d.state;
      if (state === 'failed') throw new Error(d.error ?? 'failed');
      if (state !== 'applied') await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('applied');
    const inv = await app.api.inject({ method: 'GET', url: `/files?prefix=${encodeURIComponent(key)}`, headers: admin });
    const replicas = inv.json<{ items: Array<{ replicas: Array<{ location: string; state: string; tier: string | null }> }> }>().items[0]!.replicas.filter((r) => r.state === 'verified');
    expect(replicas.map((r) => r.location)).toEqual(['azure']);
    expect(replicas[0]!.tier).not.toBe('Hot');
    const got = await app.api.inject({ method: 'GET', url: `/files/azure/${key}`, headers: admin });
    expect(got.rawPayload.equals(Buffer.alloc(MiB, 3))).toBe(true);
  });

  it('POST /predictive/train as in the seed: auto-labelled records train a model, versioned with its metrics; GET /predictive/model shows it', async () => {
    const records = Array.from({ length: 120 }, (_, i) => ({
      key: `r${i}`,
      size: (i % 3 === 0 ? 200 : 4) * MiB,
      created_day: 0,
      reads: i % 2 === 0 ? Array.from({ length: 60 }, (_, d) => [d, 5]) : [[1, 1]],
    }));
    const res = await app.api.inject({ method: 'POST', url: '/predictive/train', headers: admin, payload: { auto_label: true, records, days: 120 } });
    expect(res.statusCode, res.body).toBe(200);
    const trained = res.json<{ model: { version: number; metrics: { accuracy: number; confusion: number[][] } }; labels: Record<string, number> }>();
    expect(trained.model.metrics.accuracy).toBeGreaterThan(0.5);
    expect(trained.labels['hot']).toBeGreaterThan(0);
    expect(trained.labels['cold']! + trained.labels['cool']!).toBeGreaterThan(0);
    const model = await app.api.inject({ method: 'GET', url: '/predictive/model', headers: admin });
    expect(model.json()).toMatchObject({ source: 'trained', version: trained.model.version });
    // Labelled records without auto_label, and a record missing its label.
    const labelled = await app.api.inject({ method: 'POST', url: '/predictive/train', headers: admin, payload: { records: [{ key: 'a', size: 10, created_day: 0, reads: [], label: 'cold' }, { key: 'b', size: 10, created_day: 0, reads: [[0, 9]] }] } });
    expect(labelled.statusCode).toBe(400);
    // No records: the stored access statistics (this file at least).
    await put(lab ? 'azure' : 'aws', `${prefix}stats.bin`, 4096);
    const stats = await app.api.inject({ method: 'POST', url: '/predictive/train', headers: admin });
    expect(stats.statusCode, stats.body).toBe(200);
    expect(stats.json<{ trained_on: string; model: { version: number } }>()).toMatchObject({ trained_on: 'access-stats', model: { version: trained.model.version + 1 } });
  });
});

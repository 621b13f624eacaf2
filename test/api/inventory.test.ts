/**
 * The inventory as the dashboard's Inventory page reads it, through the real control plane
 * (createApp) on embedded defaults and on the lab (PostgreSQL; MinIO, Azurite, fake-gcs-server):
 *
 * - GET /files sorted by key, size or last change either way, searched by key substring,
 *   filtered by tier, page by page through opaque keyset cursors; per copy and per file the
 *   storage cost a month now, the tier class, the encryption format, the latest tiering decision;
 *   derived alerts; bad sort, search or cursor → 400 with a stable code;
 * - GET /inventory/files/{location}/{key}: versions, copies with checksums, the key's audit
 *   entries, access per day, tiering decisions;
 * - a token allowed at one location sees and reaches nothing of another: not in the listing, not
 *   by search, 403 for the other location's detail, 404 (never 403) for a file only elsewhere.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { labEnv } from '../lab.ts';
import { until } from '../until.ts';

const ADMIN = 'inventory-admin-token-0123456789';
const run = `${process.pid}-${Date.now().toString(36)}`;

interface Replica {
  location: string;
  version: number;
  state: string;
  tier: string | null;
  tier_class: string | null;
  encryption: string | null;
  key_id: string | null;
  monthly_cost_usd: number | null;
  recommendation: { tier: string; confidence: number; state: string; change: string } | null;
  checksums: Record<string, string>;
}
interface Item {
  key: string;
  size: number;
  updated_at: string;
  monthly_cost_usd: number;
  replicas: Replica[];
  alerts: Array<{ kind: string; location: string }>;
}
interface Page {
  items: Item[];
  next_cursor: string | null;
}

const setups: Array<[string, () => Record<string, string>]> = [
  ['embedded defaults', () => ({})],
  [
    'the lab (PostgreSQL, MinIO, Azurite, fake-gcs-server)',
    () => ({ ...labEnv(), DATABASE_SCHEMA: `inventory_${run.replace(/-/g, '_')}`, S3_BUCKET: 'movingdata-inventory-test', AZURE_CONTAINER: 'movingdata-inventory-test', GCS_BUCKET: 'movingdata-inventory-test' }),
  ],
];

describe.each(setups)('the inventory on %s', (_label, environment) => {
  let app: App;
  let dataDir: string;
  let ana: string;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const prefix = `inv-${run}/`;
  // aws allows analytics (ana); azure does not.
  const files: Array<[string, string, number]> = [
    ['aws', 'alpha.csv', 3000],
    ['aws', 'Beta-Report.CSV', 1000],
    ['aws', 'gamma.bin', 5000],
    ['azure', 'delta-report.csv', 4000],
    ['azure', 'epsilon.txt', 2000],
  ];

  const get = async <T>(url: string, token = ADMIN, status = 200): Promise<T> => {
    const res = await app.api.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode, `${url}: ${res.body}`).toBe(status);
    return res.json<T>();
  };
  /** Every item of a listing, following the cursors `limit` at a time. */
  const all = async (query: string, token = ADMIN, limit = 2): Promise<Item[]> => {
    const items: Item[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await get<Page>(`/files?prefix=${encodeURIComponent(prefix)}&limit=${limit}${query === '' ? '' : `&${query}`}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, token);
      expect(page.items.length).toBeLessThanOrEqual(limit);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return items;
  };
  const keys = (items: readonly Item[]) => items.map((i) => i.key.slice(prefix.length));

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-inventory-'));
    app = await createApp(
      loadConfig({
        ...environment(),
        MOVINGDATA_DEMO: '1',
        MOVINGDATA_ADMIN_TOKEN: ADMIN,
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: 'silent',
        CONSISTENCY_SCAN_INTERVAL_S: '0',
        TIERING_INTERVAL_S: '0',
      }),
    );
    for (const [location, key, size] of files) {
      const res = await app.api.inject({ method: 'PUT', url: `/files/${location}/${prefix}${key}`, headers: admin, payload: Buffer.alloc(size, 7) });
      expect(res.statusCode, res.body).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const created = await app.api.inject({ method: 'POST', url: '/tokens', headers: admin, payload: { name: `ana-${run}`, roles: ['analytics'] } });
    expect(created.statusCode, created.body).toBe(201);
    ana = created.json<{ token: string }>().token;
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('sorts by key, size or last change, either way, page by page', async () => {
    const byKey = [...files.map((f) => f[1])].sort();
    expect(keys(await all(''))).toEqual(byKey);
    expect(keys(await all('sort=key&order=desc'))).toEqual([...byKey].reverse());
    const bySize = [...files].sort((a, b) => a[2] - b[2]).map((f) => f[1]);
    const sized = await all('sort=size');
    expect(keys(sized)).toEqual(bySize);
    expect(sized.map((i) => i.size)).toEqual([...files.map((f) => f[2])].sort((a, b) => a - b));
    expect(keys(await all('sort=size&order=desc', ADMIN, 3))).toEqual([...bySize].reverse());
    // Written one after the other: the last change is the write order.
    expect(keys(await all('sort=updated_at&order=desc'))).toEqual(files.map((f) => f[1]).reverse());
    expect(keys(await all('sort=updated_at', ADMIN, 1))).toEqual(files.map((f) => f[1]));
  });

  it('searches keys (a substring, ASCII case ignored) and filters by tier and location', async () => {
    expect(keys(await all('q=report'))).toEqual(['Beta-Report.CSV', 'delta-report.csv']);
    expect(keys(await all('q=CSV&sort=size&order=desc'))).toEqual(['delta-report.csv', 'alpha.csv', 'Beta-Report.CSV']);
    expect(keys(await all('q=nothing-like-this'))).toEqual([]);
    expect(keys(await all('q=report&location=azure'))).toEqual(['delta-report.csv']);
    // Every copy starts in the hot tier; change one to cool.
    expect(keys(await all('tier=hot'))).toEqual([...files.map((f) => f[1])].sort());
    expect(await all('tier=cool')).toEqual([]);
    const change = await app.api.inject({ method: 'POST', url: '/tiering/change', headers: admin, payload: { location: 'azure', key: `${prefix}epsilon.txt`, tier: 'cool' } });
    expect(change.statusCode, change.body).toBe(200);
    const cool = await all('tier=cool');
    expect(keys(cool)).toEqual(['epsilon.txt']);
    expect(cool[0]!.replicas[0]).toMatchObject({ location: 'azure', tier_class: 'cool' });
    expect(keys(await all('tier=hot'))).not.toContain('epsilon.txt');
  });

  it('prices every copy (storage a month now), names its tier class and encryption, and shows the latest tiering decision', async () => {
    const items = await all('');
    for (const item of items) {
      expect(item.replicas.length).toBeGreaterThan(0);
      for (const r of item.replicas) {
        expect(r.monthly_cost_usd, item.key).toBeGreaterThan(0);
        expect(r.encryption).toBe('age');
        expect(r.key_id).toMatch(/\S/);
        expect(r.tier_class).toMatch(/^(hot|cool|cold|archive)$/);
      }
      expect(item.monthly_cost_usd).toBeCloseTo(item.replicas.reduce((s, r) => s + r.monthly_cost_usd!, 0), 12);
      expect(item.alerts).toEqual([]);
    }
    // A bigger file costs more in the same tier and provider (a minimum billable size aside).
    const alpha = items.find((i) => i.key.endsWith('alpha.csv'))!;
    const gamma = items.find((i) => i.key.endsWith('gamma.bin'))!;
    expect(gamma.monthly_cost_usd).toBeGreaterThanOrEqual(alpha.monthly_cost_usd);
    // The change to cool above is a decision; it is this copy's recommendation now.
    const epsilon = items.find((i) => i.key.endsWith('epsilon.txt'))!;
    expect(epsilon.replicas[0]!.recommendation).toMatchObject({ tier: 'cool', state: 'applied', change: 'tier' });
    expect(alpha.replicas[0]!.recommendation).toBeNull();
    // A dry run's decisions come back too, with their confidence.
    const pin = await app.api.inject({ method: 'PUT', url: '/tiering/pins', headers: admin, payload: { location: 'aws', prefix: `${prefix}gamma`, tier: 'cold' } });
    expect(pin.statusCode, pin.body).toBe(200);
    const dry = await app.api.inject({ method: 'POST', url: '/tiering/run', headers: admin, payload: { dry_run: true, locations: ['aws'], prefix: `${prefix}gamma` } });
    expect(dry.statusCode, dry.body).toBe(200);
    const [again] = await all('q=gamma');
    expect(again!.replicas[0]!.recommendation).toMatchObject({ tier: 'cold', state: 'dry_run' });
    expect(again!.replicas[0]!.recommendation!.confidence).toBeGreaterThan(0);
  });

  it('answers one file in detail: versions, copies with checksums, its audit entries, access per day and tiering decisions', async () => {
    const key = `${prefix}alpha.csv`;
    const second = await app.api.inject({ method: 'PUT', url: `/files/aws/${key}?replicas=azure`, headers: admin, payload: Buffer.alloc(3500, 8) });
    expect(second.statusCode, second.body).toBe(201);
    const read = await app.api.inject({ method: 'GET', url: `/files/aws/${key}`, headers: admin });
    expect(read.statusCode).toBe(200);
    interface Detail {
      file: Item;
      versions: Array<{ version: number; size: number; sha256: string; current: boolean; encryption: string }>;
      history: Array<{ location: string; version: number; state: string; checksums: Record<string, string> }>;
      audit: Array<{ action: string; location: string; principal: string }>;
      access: Array<{ location: string; days: Array<{ day: string; reads: number; writes: number }> }>;
      decisions: unknown[];
    }
    // Access statistics arrive through the event pipeline.
    const detail = await until(
      'the read in the access statistics',
      async () => {
        const d = await get<Detail>(`/inventory/files/aws/${key}`);
        return d.access.find((a) => a.location === 'aws')?.days.some((day) => day.reads > 0) === true ? d : undefined;
      },
      30_000,
      200,
    );
    expect(detail.file).toMatchObject({ key, size: 3500 });
    expect(detail.file.replicas.map((r) => `${r.location}:v${r.version}`)).toEqual(['aws:v2', 'azure:v2']);
    expect(detail.versions.map((v) => [v.version, v.size, v.current])).toEqual([
      [2, 3500, true],
      [1, 3000, false],
    ]);
    expect(detail.versions[0]!.encryption).toBe('age');
    expect(detail.history.filter((h) => h.state === 'verified').map((h) => `${h.location}:v${h.version}`)).toEqual(['aws:v2', 'azure:v2']);
    for (const h of detail.history.filter((x) => x.state === 'verified')) expect(Object.keys(h.checksums).length).toBeGreaterThan(0);
    const actions = detail.audit.map((a) => `${a.action}@${a.location}`);
    expect(actions).toContain('write@aws');
    expect(actions).toContain('read@aws');
    expect(detail.audit.every((a) => a.location === 'aws' || a.location === 'azure')).toBe(true);
    const day = detail.access.find((a) => a.location === 'aws')!.days.at(-1)!;
    expect(day.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(day.writes).toBeGreaterThan(0);
    expect(detail.decisions).toEqual([]);

    const gamma = await get<Detail>(`/inventory/files/aws/${prefix}gamma.bin`);
    expect(gamma.decisions).toEqual([expect.objectContaining({ to_tier: 'cold', state: 'dry_run', location: 'aws' })]);

    const missing = await get<{ error: { code: string } }>(`/inventory/files/aws/${prefix}no-such-file`, ADMIN, 404);
    expect(missing.error.code).toBe('not_found');
    // At a location that does not hold it: 404 too.
    expect((await get<{ error: { code: string } }>(`/inventory/files/gcp/${key}`, ADMIN, 404)).error.code).toBe('not_found');
  });

  it('a token allowed at one location sees and reaches nothing of another', async () => {
    const seen = await all('', ana);
    expect(keys(seen)).toEqual(['Beta-Report.CSV', 'alpha.csv', 'gamma.bin']);
    for (const item of seen) expect(item.replicas.map((r) => r.location)).toEqual(['aws']);
    expect(keys(await all('q=report', ana))).toEqual(['Beta-Report.CSV']);
    expect(keys(await all('sort=size&order=desc', ana, 1))).toEqual(['gamma.bin', 'alpha.csv', 'Beta-Report.CSV']);
    expect(keys(await all('location=azure', ana))).toEqual([]);
    // Another location's detail: refused before anything is looked up, whether the file exists or not.
    const refused = await get<{ error: { code: string } }>(`/inventory/files/azure/${prefix}epsilon.txt`, ana, 403);
    expect(refused.error.code).toBe('forbidden');
    expect((await get<{ error: { code: string } }>(`/inventory/files/azure/${prefix}no-such-file`, ana, 403)).error.code).toBe('forbidden');
    // A file that exists only elsewhere is not found at the caller's own location.
    expect((await get<{ error: { code: string } }>(`/inventory/files/aws/${prefix}epsilon.txt`, ana, 404)).error.code).toBe('not_found');
    // Its own file's detail shows only its own copies, versions and audit entries.
    const detail = await get<{ file: Item; history: Array<{ location: string }>; audit: Array<{ location: string }>; access: Array<{ location: string }> }>(`/inventory/files/aws/${prefix}alpha.csv`, ana);
    expect(detail.file.replicas.map((r) => r.location)).toEqual(['aws']);
    expect(new Set([...detail.history, ...detail.audit, ...detail.access].map((x) => x.location))).toEqual(new Set(['aws']));
    // And the API refuses its actions there.
    const del = await app.api.inject({ method: 'DELETE', url: `/files/azure/${prefix}epsilon.txt`, headers: { authorization: `Bearer ${ana}` } });
    expect(del.statusCode).toBe(403);
  });

  it('refuses a bad sort, search, tier or cursor with a stable code', async () => {
    for (const [query, code] of [
      ['sort=colour', 'invalid_argument'],
      ['order=sideways', 'invalid_argument'],
      ['tier=lukewarm', 'invalid_argument'],
      [`q=${'x'.repeat(257)}`, 'invalid_argument'],
      ['cursor=not-a-cursor', 'invalid_cursor'],
    ] as const) {
      const body = await get<{ error: { code: string; message: string } }>(`/files?${query}`, ADMIN, 400);
      expect(body.error.code, query).toBe(code);
    }
    // A cursor is valid only with the sort and order it came from.
    const page = await get<Page>('/files?sort=size&limit=1');
    expect(page.next_cursor).not.toBeNull();
    expect((await get<{ error: { code: string } }>(`/files?sort=size&order=desc&cursor=${encodeURIComponent(page.next_cursor!)}`, ADMIN, 400)).error.code).toBe('invalid_cursor');
    expect((await get<{ error: { code: string } }>(`/files?cursor=${encodeURIComponent(page.next_cursor!)}`, ADMIN, 400)).error.code).toBe('invalid_cursor');
  });
});

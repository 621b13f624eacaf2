/**
 * What a GET serves is what was written, or an error — under races, substitution and sharing.
 * Through the real control plane (createApp), on embedded defaults, on the lab (one server),
 * and on the lab with two servers sharing one PostgreSQL schema and the same buckets; on every
 * location (embedded: local disk three times; lab: MinIO, Azurite, fake-gcs-server).
 *
 * - concurrent overwrites of one key: every GET's bytes match its ETag and a committed version,
 *   the last commit wins, and a scan finds no drift;
 * - an overwrite racing a delete: the GET after is a 404 or the new version, never the old one;
 * - concurrent fan-outs of one key: every location serves the same, last-committed version;
 * - a stored object substituted behind our back (same size or not): 422 integrity_mismatch
 *   before a byte, the copy marked failed, restored from another verified copy when one
 *   exists, dead-lettered when none does; a deep scan finds a same-size substitution;
 * - two principals writing one key at two locations: each location its own copy and version.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { labEnv } from '../lab.ts';
import { emptyContainer, storedKeyOf } from '../objects.ts';
import { until } from '../until.ts';

const ADMIN = 'demo-admin-token-for-integrity-0123456789';
const LOCATIONS = ['aws', 'azure', 'gcp'] as const;
const ROUNDS = 5;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Setup {
  readonly label: string;
  readonly servers: number;
  readonly env: () => Record<string, string>;
}

const lab = (name: string) => () => ({ ...labEnv(), DATABASE_SCHEMA: `${name.replaceAll("-", "_")}_${process.pid}`, S3_BUCKET: name, AZURE_CONTAINER: name, GCS_BUCKET: name });
const SETUPS: readonly Setup[] = [
  { label: 'embedded defaults', servers: 1, env: () => ({}) },
  { label: 'the lab, one server', servers: 1, env: lab('integrity-one') },
  { label: 'the lab, two servers sharing PostgreSQL', servers: 2, env: lab('integrity-two') },
];

describe.each(SETUPS)('integrity of the data path on $label', ({ label, servers, env }) => {
  const apps: App[] = [];
  let dataDirs: string[] = [];
  const json = { 'content-type': 'application/json' };

  /** A request to server `n` (round robin over the servers). */
  function call(n: number, method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, options: { token?: string; body?: Buffer | string; headers?: Record<string, string> } = {}) {
    return apps[n % apps.length]!.api.inject({
      method,
      url,
      headers: { authorization: `Bearer ${options.token ?? ADMIN}`, ...options.headers },
      ...(options.body === undefined ? {} : { payload: options.body }),
    });
  }

  /** GET from every server: the bytes must match the ETag; returns the served SHA-256 (or 404). */
  async function servedEverywhere(location: string, key: string): Promise<string | 404> {
    const seen = new Set<string | 404>();
    for (let n = 0; n < apps.length; n++) {
      const got = await call(n, 'GET', `/files/${location}/${key}`);
      if (got.statusCode === 404) {
        seen.add(404);
        continue;
      }
      expect(got.statusCode, got.payload.slice(0, 200)).toBe(200);
      const etag = String(got.headers['etag']).replaceAll('"', '');
      expect(sha256(got.rawPayload), `${location}:${key} bytes vs ETag`).toBe(etag);
      seen.add(etag);
    }
    expect(seen.size, `every server serves the same for ${location}:${key}`).toBe(1);
    return [...seen][0]!;
  }

  async function driftOf(locations: readonly string[]): Promise<Record<string, Record<string, number>>> {
    const scan = await call(0, 'POST', '/consistency/scan', { body: JSON.stringify({ locations, wait: true }), headers: json });
    expect(scan.statusCode, scan.payload).toBe(200);
    return Object.fromEntries(scan.json<{ jobs: Array<{ result: { location: string; drift: Record<string, number> } }> }>().jobs.map((j) => [j.result.location, j.result.drift]));
  }

  const ZERO = { missing: 0, differing: 0, conflict: 0, failed: 0, orphan: 0, pending_delete: 0 };

  beforeAll(async () => {
    const shared = await mkdtemp(join(tmpdir(), 'movingdata-integrity-'));
    dataDirs = [shared];
    for (let n = 0; n < servers; n++) {
      // Two servers share the metadata and the buckets, and each keeps its own data directory
      // (keys are demo keys kept in the first one's, so both seal and open alike).
      const app = await createApp(
        loadConfig({
          ...env(),
          MOVINGDATA_DEMO: '1',
          MOVINGDATA_ADMIN_TOKEN: ADMIN,
          MOVINGDATA_DATA_DIR: shared,
          MOVINGDATA_LOG_LEVEL: 'silent',
          CONSISTENCY_SCAN_INTERVAL_S: '0',
          MOVINGDATA_RETRY_BASE_MS: '20',
          MOVINGDATA_RETRY_CAP_MS: '100',
          MOVINGDATA_JOB_MAX_ATTEMPTS: '3',
          MOVINGDATA_JOB_POLL_MS: '50',
        }),
      );
      apps.push(app);
      if (n === 0 && label !== 'embedded defaults') for (const store of app.context.stores.values()) await store.ensureContainer().then(() => emptyContainer(store.inner));
    }
    for (const [name, roles] of [
      ['ana', ['analytics']],
      ['ops', ['operations']],
    ] as const) {
      const created = await call(0, 'POST', '/tokens', { body: JSON.stringify({ name, roles }), headers: json });
      expect(created.statusCode, created.payload).toBe(201);
      tokens[name] = created.json<{ token: string }>().token;
    }
  });
  const tokens: Record<string, string> = {};

  afterAll(async () => {
    for (const app of apps.splice(0)) await app.close();
    for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  });

  it.each(LOCATIONS)('concurrent overwrites of one key at %s: every GET matches its ETag and the last commit, drift 0', async (location) => {
    const key = `same/${location}`;
    for (let round = 0; round < ROUNDS; round++) {
      const bodies = Array.from({ length: 8 }, () => randomBytes(4096));
      const puts = await Promise.all(bodies.map((body, n) => call(n, 'PUT', `/files/${location}/${key}`, { body })));
      const written = puts.map((p) => {
        expect(p.statusCode, p.payload).toBe(201);
        return p.json<{ sha256: string; version: number }>();
      });
      const served = await servedEverywhere(location, key);
      expect(written.map((w) => w.sha256)).toContain(served);
      // The last commit wins: the file's current version is the one served.
      const file = await apps[0]!.context.metadata.findFileByKey(key);
      expect((await apps[0]!.context.metadata.getVersion(file!.id, file!.currentVersion!)).sha256).toBe(served);
    }
    expect((await driftOf([location]))[location]).toEqual(ZERO);
  });

  it.each(LOCATIONS)('an overwrite racing a delete at %s: the GET after is a 404 or the new version, never the old', async (location) => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = `race/${location}/${round}`;
      const v1 = randomBytes(4096);
      const v2 = randomBytes(4096);
      expect((await call(0, 'PUT', `/files/${location}/${key}`, { body: v1 })).statusCode).toBe(201);
      const [put, del] = await Promise.all([call(0, 'PUT', `/files/${location}/${key}`, { body: v2 }), call(1, 'DELETE', `/files/${location}/${key}`)]);
      expect(put.statusCode, put.payload).toBe(201);
      expect(del.statusCode).toBe(204);
      const served = await servedEverywhere(location, key);
      expect([404, sha256(v2)]).toContain(served);
    }
    expect((await driftOf([location]))[location]).toEqual(ZERO);
  });

  it('concurrent fan-outs of one key: every location serves the same, last-committed version, drift 0', async () => {
    const key = 'fan/same';
    for (let round = 0; round < ROUNDS; round++) {
      const bodies = Array.from({ length: 6 }, () => randomBytes(4096));
      const puts = await Promise.all(bodies.map((body, n) => call(n, 'PUT', `/files/aws/${key}?replicas=azure,gcp`, { body })));
      for (const p of puts) expect(p.statusCode, p.payload).toBe(201);
      const served = await Promise.all(LOCATIONS.map((l) => servedEverywhere(l, key)));
      expect(new Set(served).size, JSON.stringify(served)).toBe(1);
      expect(bodies.map(sha256)).toContain(served[0]);
    }
    expect(await driftOf([...LOCATIONS])).toEqual(Object.fromEntries(LOCATIONS.map((l) => [l, ZERO])));
  });

  it.each(LOCATIONS)('a copy at %s substituted behind our back is refused before a byte (422), marked failed and restored from another copy', async (location) => {
    const other = LOCATIONS.find((l) => l !== location)!;
    const a = Buffer.alloc(5000, 'a');
    const b = Buffer.alloc(5000, 'b');
    expect((await call(0, 'PUT', `/files/${location}/subst/${location}/a?replicas=${other}`, { body: a })).statusCode).toBe(201);
    expect((await call(0, 'PUT', `/files/${location}/subst/${location}/b`, { body: b })).statusCode).toBe(201);
    const { metadata, stores } = apps[0]!.context;
    const inner = stores.get(location)!.inner;
    const stored = { a: await storedKeyOf(metadata, `subst/${location}/a`, location), b: await storedKeyOf(metadata, `subst/${location}/b`, location) };
    const bBytes = Buffer.concat((await (await inner.get(stored.b)).body.toArray()) as Buffer[]);
    await inner.put(stored.a, Readable.from([bBytes]), { metadata: (await inner.head(stored.b)).metadata });

    const got = await call(1, 'GET', `/files/${location}/subst/${location}/a`);
    expect(got.statusCode).toBe(422);
    expect(got.json<{ error: { code: string } }>().error.code).toBe('integrity_mismatch');
    expect(got.rawPayload.includes(Buffer.alloc(64, 'b'))).toBe(false);
    // The copy is restored from the verified one at `other`, by a repair job, as the same version.
    await until('the restored copy', async () => ((await call(0, 'GET', `/files/${location}/subst/${location}/a`)).statusCode === 200 ? true : undefined), 30_000, 100);
    const restored = await call(1, 'GET', `/files/${location}/subst/${location}/a`);
    expect(restored.rawPayload.equals(a)).toBe(true);
    expect(restored.headers['x-movingdata-version']).toBe('1');
  });

  it.runIf(servers === 1).each(LOCATIONS)('without another copy, a substituted copy at %s stays 422, its repair is dead-lettered, and both show in the status', async (location) => {
    const key = `subst-alone/${location}`;
    expect((await call(0, 'PUT', `/files/${location}/${key}`, { body: Buffer.alloc(3000, 'x') })).statusCode).toBe(201);
    expect((await call(0, 'PUT', `/files/${location}/${key}-other`, { body: Buffer.alloc(3100, 'y') })).statusCode).toBe(201);
    const { metadata, stores } = apps[0]!.context;
    const inner = stores.get(location)!.inner;
    const mine = await storedKeyOf(metadata, key, location);
    const theirs = await storedKeyOf(metadata, `${key}-other`, location);
    // A different size: a listing shows it too, but the read must not wait for a scan.
    await inner.put(mine, Readable.from([Buffer.concat((await (await inner.get(theirs)).body.toArray()) as Buffer[])]), { metadata: (await inner.head(theirs)).metadata });
    const first = await call(0, 'GET', `/files/${location}/${key}`);
    expect([first.statusCode, first.json<{ error: { code: string } }>().error.code]).toEqual([422, 'integrity_mismatch']);
    await until('the dead-lettered repair', async () => ((await call(0, 'GET', '/consistency/status')).json<{ retries: { dead: number } }>().retries.dead > 0 ? true : undefined), 30_000, 100);
    const again = await call(0, 'GET', `/files/${location}/${key}`);
    expect(again.statusCode).toBe(422);
    const drift = await driftOf([location]);
    expect(drift[location]?.['failed']).toBeGreaterThanOrEqual(1);
  });

  it.runIf(servers === 1)('a deep scan finds a same-size substitution that a read has not met yet', async () => {
    const location = 'gcp';
    expect((await call(0, 'PUT', `/files/${location}/deep/a`, { body: Buffer.alloc(2000, 'a') })).statusCode).toBe(201);
    expect((await call(0, 'PUT', `/files/${location}/deep/b`, { body: Buffer.alloc(2000, 'b') })).statusCode).toBe(201);
    const { metadata, stores } = apps[0]!.context;
    const inner = stores.get(location)!.inner;
    const [a, b] = [await storedKeyOf(metadata, 'deep/a', location), await storedKeyOf(metadata, 'deep/b', location)];
    await inner.put(a, Readable.from([Buffer.concat((await (await inner.get(b)).body.toArray()) as Buffer[])]), { metadata: (await inner.head(b)).metadata });
    const scan = await call(0, 'POST', '/consistency/scan', { body: JSON.stringify({ locations: [location], wait: true, deep: true }), headers: json });
    const drift = scan.json<{ jobs: Array<{ result: { drift: Record<string, number> } }> }>().jobs[0]!.result.drift;
    expect((drift['differing'] ?? 0) + (drift['conflict'] ?? 0)).toBeGreaterThanOrEqual(1);
  });

  it('keeps one key at two locations apart for two principals: each location its own copy, version and ETag', async () => {
    const key = 'shared/k';
    const mine = Buffer.from('ana at aws');
    const theirs = Buffer.from('ops at azure, longer');
    expect((await call(0, 'PUT', `/files/aws/${key}`, { token: tokens['ana'], body: mine })).statusCode).toBe(201);
    expect((await call(1, 'PUT', `/files/azure/${key}`, { token: tokens['ops'], body: theirs })).statusCode).toBe(201);
    const got = await call(0, 'GET', `/files/aws/${key}`, { token: tokens['ana'] });
    expect(got.rawPayload.equals(mine)).toBe(true);
    expect(got.headers['etag']).toBe(`"${sha256(mine)}"`);
    const listing = async (token: string) => (await call(0, 'GET', `/files?prefix=${key}`, { token })).json<{ items: Array<{ key: string; sha256: string; replicas: Array<{ location: string; sha256: string }> }> }>().items;
    expect(await listing(tokens['ana']!)).toMatchObject([{ key, sha256: sha256(mine), replicas: [{ location: 'aws', sha256: sha256(mine) }] }]);
    expect(await listing(tokens['ops']!)).toMatchObject([{ key, sha256: sha256(theirs), replicas: [{ location: 'azure', sha256: sha256(theirs) }] }]);

    // ops deleting at azure changes nothing at aws: ana still reads and lists her copy.
    expect((await call(1, 'DELETE', `/files/azure/${key}`, { token: tokens['ops'] })).statusCode).toBe(204);
    expect((await call(0, 'GET', `/files/aws/${key}`, { token: tokens['ana'] })).rawPayload.equals(mine)).toBe(true);
    expect((await listing(tokens['ana']!)).map((i) => i.key)).toEqual([key]);
    expect(await listing(tokens['ops']!)).toEqual([]);
    expect((await call(0, 'GET', `/files/azure/${key}`, { token: tokens['ops'] })).statusCode).toBe(404);

    // Replicating needs roles at both ends, and answers alike for a key that exists elsewhere or nowhere.
    const existing = await call(0, 'POST', `/files/${key}/replicate`, { token: tokens['ana'], body: JSON.stringify({ to: ['gcp'] }), headers: json });
    const missing = await call(0, 'POST', '/files/no/such/key/replicate', { token: tokens['ana'], body: JSON.stringify({ to: ['gcp'] }), headers: json });
    expect([existing.statusCode, missing.statusCode]).toEqual([403, 403]);
  });

  it('serves each location its own version after an overwrite at one of them, and shows the other copy stale', async () => {
    const key = 'stale/k';
    const v1 = Buffer.from('version one, everywhere');
    const v2 = Buffer.from('version two, at aws only');
    expect((await call(0, 'PUT', `/files/aws/${key}?replicas=azure`, { body: v1 })).statusCode).toBe(201);
    expect((await call(1, 'PUT', `/files/aws/${key}`, { body: v2 })).statusCode).toBe(201);
    const azure = await call(0, 'GET', `/files/azure/${key}`);
    expect(azure.rawPayload.equals(v1)).toBe(true);
    expect(azure.headers['etag']).toBe(`"${sha256(v1)}"`);
    expect((await call(1, 'GET', `/files/aws/${key}`)).rawPayload.equals(v2)).toBe(true);
    const [item] = (await call(0, 'GET', `/files?prefix=${key}`)).json<{ items: Array<{ version: number; replicas: Array<{ location: string; version: number; stale: boolean; sha256: string }> }> }>().items;
    expect(item?.version).toBe(2);
    expect(item?.replicas.map((r) => [r.location, r.version, r.stale, r.sha256])).toEqual([
      ['aws', 2, false, sha256(v2)],
      ['azure', 1, true, sha256(v1)],
    ]);
    // An explicit replicate brings azure up to date.
    const replicated = await call(0, 'POST', `/files/${key}/replicate`, { body: JSON.stringify({ to: ['azure'] }), headers: json });
    expect(replicated.json<{ ok: boolean }>().ok, replicated.payload).toBe(true);
    expect((await call(1, 'GET', `/files/azure/${key}`)).rawPayload.equals(v2)).toBe(true);
  });

  it('never lets a cursor carry a key of a location the caller cannot see', async () => {
    expect((await call(0, 'PUT', '/files/gcp/cursor/secret-gcp-key', { body: 'compliance only' })).statusCode).toBe(201);
    const page = (await call(0, 'GET', '/files?location=gcp&limit=1', { token: tokens['ana'] })).json<{ items: unknown[]; next_cursor: string | null }>();
    expect(page).toEqual({ items: [], next_cursor: null });
    let cursor: string | null = null;
    const seen: string[] = [];
    do {
      const url: string = `/files?limit=1${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const next: { items: Array<{ key: string }>; next_cursor: string | null } = (await call(0, 'GET', url, { token: tokens['ana'] })).json();
      seen.push(...next.items.map((i) => i.key));
      if (next.next_cursor !== null) seen.push(Buffer.from(next.next_cursor, 'base64url').toString('utf8'));
      cursor = next.next_cursor;
    } while (cursor !== null);
    expect(seen.join(' ')).not.toContain('secret-gcp-key');
    const bad = await call(0, 'GET', '/files?cursor=not-a-cursor', { token: tokens['ana'] });
    expect([bad.statusCode, bad.json<{ error: { code: string } }>().error.code]).toEqual([400, 'invalid_cursor']);
  });
});

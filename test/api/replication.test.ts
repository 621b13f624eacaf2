/**
 * Replication through the API, on embedded defaults and on the lab: fan-out uploads, the
 * inventory, replicate, move (across locations and across tiers), and the seed's /seed and
 * /storage_test.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { ONE_RECIPIENT_HEADER_BYTES } from '../../src/crypto/encrypted-store.ts';
import { labEnv } from '../lab.ts';
import { storedKeyOf } from '../objects.ts';

const ADMIN = 'demo-admin-token-for-replication-tests';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface InventoryItem {
  key: string;
  sha256: string;
  version: number;
  replicas: Array<{ location: string; state: string; key_id: string | null; tier: string | null }>;
}
interface JobsReply {
  ok: boolean;
  jobs: Array<{ state: string; kind: string; last_error: string | null; result: Record<string, unknown> | null }>;
}

const setups: Array<[string, () => Record<string, string>, { cool: Record<string, string> }]> = [
  ['embedded defaults', () => ({}), { cool: { aws: 'cool', azure: 'cool', gcp: 'cool' } }],
  [
    'the lab',
    () => ({ ...labEnv(), DATABASE_SCHEMA: `replication_${process.pid}`, S3_BUCKET: 'replication-api', AZURE_CONTAINER: 'replication-api', GCS_BUCKET: 'replication-api' }),
    { cool: { aws: 'REDUCED_REDUNDANCY', azure: 'Cool', gcp: 'NEARLINE' } },
  ],
];

describe.each(setups)('replication API on %s', (_label, environment, tiers) => {
  let app: App;
  let dataDir: string;
  const tokens: Record<string, string> = {};

  async function call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, token: string | undefined, body?: Buffer | object) {
    const json = body !== undefined && !Buffer.isBuffer(body);
    return app.api.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(json ? { 'content-type': 'application/json' } : {}) },
      ...(body === undefined ? {} : { payload: json ? JSON.stringify(body) : body }),
    });
  }

  async function inventory(prefix: string): Promise<InventoryItem[]> {
    const response = await call('GET', `/files?prefix=${encodeURIComponent(prefix)}`, ADMIN);
    expect(response.statusCode).toBe(200);
    return response.json<{ items: InventoryItem[] }>().items;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-replication-'));
    app = await createApp(loadConfig({ ...environment(), MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: ADMIN, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent' }));
    for (const [name, roles] of [
      ['analyst', ['analytics']],
      ['ops', ['operations', 'analytics']],
    ] as const) {
      const created = await call('POST', '/tokens', ADMIN, { name, roles });
      tokens[name] = created.json<{ token: string }>().token;
    }
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('stores one upload at three locations in one pass, each sealed for its own key', async () => {
    const content = randomBytes(300_000);
    const put = await call('PUT', '/files/aws/fan/out.bin?replicas=azure,gcp', ADMIN, content);
    expect(put.statusCode).toBe(201);
    const written = put.json<{ replicas: Array<{ location: string; state: string; key_id: string }> }>();
    expect(written.replicas.map((r) => [r.location, r.state])).toEqual([
      ['aws', 'verified'],
      ['azure', 'verified'],
      ['gcp', 'verified'],
    ]);
    expect(new Set(written.replicas.map((r) => r.key_id)).size).toBe(3);

    const [item] = await inventory('fan/');
    expect(item?.sha256).toBe(sha256(content));
    expect(item?.replicas.map((r) => [r.location, r.state])).toEqual([
      ['aws', 'verified'],
      ['azure', 'verified'],
      ['gcp', 'verified'],
    ]);
    const payloads = await Promise.all(
      ['aws', 'azure', 'gcp'].map(async (l) =>
        Buffer.concat((await (await app.context.stores.get(l)!.inner.get(await storedKeyOf(app.context.metadata, 'fan/out.bin', l))).body.toArray()) as Buffer[]).subarray(ONE_RECIPIENT_HEADER_BYTES),
      ),
    );
    expect(payloads[1]!.equals(payloads[0]!) && payloads[2]!.equals(payloads[0]!)).toBe(true);
    for (const location of ['aws', 'azure', 'gcp']) {
      const got = await call('GET', `/files/${location}/fan/out.bin`, ADMIN);
      expect(got.rawPayload.equals(content), location).toBe(true);
    }
  });

  it('replicates an existing file to another location (header re-wrapped, verified)', async () => {
    const content = randomBytes(150_000);
    expect((await call('PUT', '/files/aws/rep/one.bin', ADMIN, content)).statusCode).toBe(201);
    const replicated = await call('POST', '/files/rep/one.bin/replicate', ADMIN, { to: ['gcp', 'azure'] });
    expect(replicated.statusCode).toBe(200);
    const reply = replicated.json<JobsReply>();
    expect(reply.ok, JSON.stringify(reply.jobs)).toBe(true);
    const [item] = await inventory('rep/one.bin');
    expect(item?.replicas.map((r) => [r.location, r.state])).toEqual([
      ['aws', 'verified'],
      ['azure', 'verified'],
      ['gcp', 'verified'],
    ]);
    expect((await call('GET', '/files/gcp/rep/one.bin', ADMIN)).rawPayload.equals(content)).toBe(true);
    // Replicating again is a no-op that succeeds.
    expect((await call('POST', '/files/rep/one.bin/replicate', ADMIN, { to: ['gcp'] })).json<JobsReply>().ok).toBe(true);
  });

  it('does not let replication carry a file where, or from where, the caller may not go', async () => {
    await call('PUT', '/files/aws/rep/guarded.txt', ADMIN, Buffer.from('guarded'));
    const denied = await call('POST', '/files/rep/guarded.txt/replicate', tokens['analyst'], { to: ['gcp'] });
    expect(denied.statusCode).toBe(403);
    await call('PUT', '/files/gcp/rep/compliance-only.txt', ADMIN, Buffer.from('compliance'));
    const exfiltrate = await call('POST', '/files/rep/compliance-only.txt/replicate', tokens['analyst'], { to: ['aws'] });
    // Nothing of it where the analyst can read: the same answer as for a key that does not exist.
    expect(exfiltrate.statusCode).toBe(404);
    expect((await inventory('rep/compliance-only.txt'))[0]?.replicas.map((r) => r.location)).toEqual(['gcp']);
  });

  it('moves a file: copy, verify, switch, then the source copy is gone', async () => {
    const content = randomBytes(80_000);
    await call('PUT', '/files/aws/move/me.bin', tokens['ops'], content);
    const source = await storedKeyOf(app.context.metadata, 'move/me.bin', 'aws');
    const moved = await call('POST', '/files/move/me.bin/move', tokens['ops'], { from: 'aws', to: 'azure' });
    expect(moved.statusCode).toBe(200);
    const reply = moved.json<JobsReply>();
    expect(reply.ok, JSON.stringify(reply.jobs)).toBe(true);
    expect(reply.jobs[0]?.result?.['steps']).toEqual(['copy', 'verify', 'switch', 'delete']);
    const [item] = await inventory('move/me.bin');
    // The source copy is deleted: no longer in the inventory, no longer stored.
    expect(item?.replicas.map((r) => [r.location, r.state])).toEqual([['azure', 'verified']]);
    await expect(app.context.stores.get('aws')!.inner.head(source)).rejects.toMatchObject({ code: 'not_found' });
    expect((await call('GET', '/files/azure/move/me.bin', tokens['ops'])).rawPayload.equals(content)).toBe(true);
    expect((await call('GET', '/files/aws/move/me.bin', tokens['ops'])).statusCode).toBe(404);
  });

  it('moves a file to another tier within a location', async () => {
    await call('PUT', '/files/gcp/tier/me.txt', ADMIN, Buffer.from('re-tier me'));
    const moved = await call('POST', '/files/tier/me.txt/move', ADMIN, { from: 'gcp', to: 'gcp', tier: tiers.cool['gcp'] });
    expect(moved.json<JobsReply>().ok, moved.payload).toBe(true);
    const [item] = await inventory('tier/me.txt');
    expect(item?.replicas[0]).toMatchObject({ location: 'gcp', state: 'verified', tier: tiers.cool['gcp'] });
    expect((await app.context.stores.get('gcp')!.inner.head(await storedKeyOf(app.context.metadata, 'tier/me.txt', 'gcp'))).tier).toBe(tiers.cool['gcp']);
  });

  it('refuses bad requests with clear errors', async () => {
    expect((await call('POST', '/files/no/such/file/replicate', ADMIN, { to: ['gcp'] })).statusCode).toBe(404);
    // Not an operation: an object path, which POST does not serve.
    expect((await call('POST', '/files/rep/one.bin/teleport', ADMIN, { to: ['gcp'] })).statusCode).toBe(405);
    expect((await call('POST', '/files/rep/one.bin/replicate', ADMIN, { to: ['mars'] })).statusCode).toBe(404);
    expect((await call('POST', '/files/rep/one.bin/replicate', ADMIN, { to: [] })).statusCode).toBe(400);
    expect((await call('POST', '/files/rep/one.bin/move', ADMIN, { from: 'gcp', to: 'gcp' })).statusCode).toBe(400);
    expect((await call('POST', '/files/rep/one.bin/replicate', undefined, { to: ['gcp'] })).statusCode).toBe(401);
  });

  it('seeds the demo files across the locations, once', async () => {
    const first = await call('POST', '/seed', ADMIN, {});
    expect(first.statusCode).toBe(200);
    const seeded = first.json<{ created: Array<{ key: string; location: string }>; skipped: string[] }>();
    expect(seeded.created.map((c) => c.key).slice(0, 3)).toEqual(['file_001.txt', 'file_002.txt', 'file_003.txt']);
    expect(seeded.created.map((c) => c.location).slice(0, 3)).toEqual(['aws', 'azure', 'gcp']);
    expect(seeded.created).toHaveLength(12);
    const again = await call('POST', '/seed', ADMIN, {});
    expect(again.json<{ created: unknown[]; skipped: string[] }>()).toMatchObject({ created: [], skipped: expect.arrayContaining(['file_001.txt', 'file_012.txt']) as unknown });
    expect((await inventory('file_0')).length).toBe(12);
  });

  it('tests every provider: write, replicate, verify, with latencies', async () => {
    const response = await call('POST', '/storage_test', ADMIN);
    expect(response.statusCode).toBe(200);
    const report = response.json<{ ok: boolean; providers: Array<{ location: string; ok: boolean; write_ms: number; replicate_ms: number; verify_ms: number; error: unknown }> }>();
    expect(report.ok, JSON.stringify(report.providers)).toBe(true);
    expect(report.providers.map((p) => p.location)).toEqual(['aws', 'azure', 'gcp']);
    for (const provider of report.providers) expect(provider.write_ms).toBeGreaterThan(0);
    expect(await inventory('_probes/')).toEqual([]);
  });
});

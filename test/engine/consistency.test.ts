/**
 * The consistency manager through the API, on embedded defaults and on the lab: drift made by
 * hand behind the control plane's back (an object deleted, one overwritten, a stray one, a
 * replica given up on, one deleted in the metadata but still stored) is found by a scan that
 * lists each location, classified by kind in /consistency/status, repaired by jobs from the
 * last verified version, and a second scan finds nothing left.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { scanLocation } from '../../src/replication/drift.ts';
import { labEnv } from '../lab.ts';
import { until } from '../until.ts';
import { storedKeyOf } from '../objects.ts';

const ADMIN = 'demo-admin-token-for-consistency-tests';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const LOCATIONS = ['aws', 'azure', 'gcp'] as const;

interface Status {
  drift: Record<string, number>;
  drift_total: number;
  retries: { retrying: number; dead: number };
  locations: Array<{ location: string; last_scan_at: string | null; last_successful_sync: string | null; objects: number | null; drift: Record<string, number> | null }>;
  recent_conflicts: unknown[];
  jobs: Record<string, Record<string, number>>;
}

const setups: Array<[string, () => Record<string, string>]> = [
  ['embedded defaults', () => ({})],
  [
    'the lab',
    () => ({ ...labEnv(), DATABASE_SCHEMA: `consistency_${process.pid}`, S3_BUCKET: `consistency-${process.pid}`, AZURE_CONTAINER: `consistency-${process.pid}`, GCS_BUCKET: `consistency-${process.pid}` }),
  ],
];

describe.each(setups)('consistency manager on %s', (_label, environment) => {
  let app: App;
  let dataDir: string;
  const contents = new Map<string, Buffer>();

  async function call(method: 'GET' | 'PUT' | 'POST', url: string, body?: Buffer | object, token: string | undefined = ADMIN) {
    const json = body !== undefined && !Buffer.isBuffer(body);
    return app.api.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(json ? { 'content-type': 'application/json' } : {}) },
      ...(body === undefined ? {} : { payload: json ? JSON.stringify(body) : body }),
    });
  }

  async function status(): Promise<Status> {
    const response = await call('GET', '/consistency/status');
    expect(response.statusCode).toBe(200);
    return response.json<Status>();
  }

  async function scan(): Promise<void> {
    const response = await call('POST', '/consistency/scan', {});
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<{ ok: boolean }>().ok).toBe(true);
  }

  async function repairsSettled(): Promise<Status> {
    return until(
      'the repair jobs to finish',
      async () => {
        const s = await status();
        return Object.values(s.jobs).every((c) => (c['queued'] ?? 0) + (c['running'] ?? 0) === 0) ? s : undefined;
      },
      60_000,
      50,
    );
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-consistency-'));
    app = await createApp(
      loadConfig({
        ...environment(),
        MOVINGDATA_DEMO: '1',
        MOVINGDATA_ADMIN_TOKEN: ADMIN,
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: 'silent',
        MOVINGDATA_DELETE_ORPHANS: 'true',
        MOVINGDATA_JOB_POLL_MS: '20',
        MOVINGDATA_RETRY_BASE_MS: '50',
        CONSISTENCY_SCAN_INTERVAL_S: '0',
      }),
    );
    for (const name of ['intact', 'deleted', 'overwritten', 'gave-up', 'moved-away']) {
      const content = randomBytes(20_000 + contents.size);
      contents.set(`drift/${name}.bin`, content);
      const put = await call('PUT', `/files/aws/drift/${name}.bin?replicas=azure,gcp`, content);
      expect(put.statusCode, put.body).toBe(201);
    }
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reports a clean status before any drift, and only to operators', async () => {
    await scan();
    const clean = await status();
    expect(clean.drift_total, JSON.stringify(clean.locations)).toBe(0);
    expect(clean.locations.map((l) => [l.location, l.objects, l.last_successful_sync !== null])).toEqual(LOCATIONS.map((l) => [l, 5, true]));
    const analyst = await call('POST', '/tokens', { name: 'consistency-analyst', roles: ['analytics'] });
    const token = analyst.json<{ token: string }>().token;
    expect((await call('GET', '/consistency/status', undefined, token)).statusCode).toBe(403);
    expect((await call('GET', '/consistency/status', undefined, '')).statusCode).toBe(401);
    expect((await call('POST', '/consistency/scan', { locations: ['mars'] })).statusCode).toBe(404);

    const scanned = await call('POST', '/consistency/scan', { locations: ['gcp'] });
    const jobId = scanned.json<{ jobs: Array<{ id: string }> }>().jobs[0]!.id;
    const job = await call('GET', `/jobs/${jobId}`);
    expect(job.json()).toMatchObject({ id: jobId, kind: 'scan', state: 'succeeded', attempts: 1, result: { location: 'gcp', objects: 5 } });
    expect((await call('GET', `/jobs/${jobId}`, undefined, token)).statusCode).toBe(403);
    expect((await call('GET', '/jobs/999999999')).statusCode).toBe(404);
    expect((await call('GET', '/jobs/not-a-number')).statusCode).toBe(400);
  });

  it('finds each kind of drift by listing, repairs it from the last verified version, and converges to drift 0', async () => {
    const { stores, metadata } = app.context;
    const raw = (location: string) => stores.get(location)!.inner;
    const fileOf = async (key: string) => (await metadata.findFileByKey(key))!;

    const stored = (key: string, location: string) => storedKeyOf(metadata, key, location);
    await raw('azure').delete(await stored('drift/deleted.bin', 'azure'));
    const overwritten = await stored('drift/overwritten.bin', 'gcp');
    await raw('gcp').put(overwritten, Readable.from([randomBytes(999)]));
    const movedAwayObject = await stored('drift/moved-away.bin', 'azure');
    await raw('aws').put('drift/stray.bin', Readable.from([Buffer.from('nobody wrote me through the control plane')]));
    const gaveUp = await fileOf('drift/gave-up.bin');
    await metadata.transitionReplica({ fileId: gaveUp.id, version: 1, location: 'gcp' }, { from: 'verified', to: 'failed', lastError: 'gave up (test)' });
    const movedAway = await fileOf('drift/moved-away.bin');
    await metadata.transitionReplica({ fileId: movedAway.id, version: 1, location: 'azure' }, { from: 'verified', to: 'deleted' });

    // The same scanner, told to treat any difference as newer than our verification: a conflict.
    const asConflict = await scanLocation(metadata, raw('gcp'), 'gcp', { clockSkewMs: -3_600_000 });
    expect(asConflict.counts.conflict).toBe(1);
    expect(asConflict.items.find((i) => i.kind === 'conflict')?.objectKey).toBe(overwritten);

    await scan();
    const found = await status();
    const byLocation = Object.fromEntries(found.locations.map((l) => [l.location, l.drift]));
    expect(byLocation['aws']).toMatchObject({ orphan: 1, missing: 0, differing: 0, conflict: 0, failed: 0, pending_delete: 0 });
    expect(byLocation['azure']).toMatchObject({ missing: 1, pending_delete: 1, orphan: 0, differing: 0, failed: 0 });
    expect(byLocation['gcp']).toMatchObject({ differing: 1, failed: 1, missing: 0, orphan: 0, pending_delete: 0 });
    expect(found.drift).toEqual({ missing: 1, differing: 1, conflict: 0, failed: 1, orphan: 1, pending_delete: 1 });
    expect(found.drift_total).toBe(5);
    for (const l of found.locations) expect(l.last_successful_sync).not.toBeNull();

    const settled = await repairsSettled();
    expect(settled.jobs['repair']?.['succeeded']).toBeGreaterThanOrEqual(5);
    expect(settled.retries.dead).toBe(0);

    await scan();
    const after = await status();
    expect(after.drift_total).toBe(0);
    for (const l of after.locations) expect(Date.parse(l.last_successful_sync!)).toBeGreaterThan(Date.parse(found.locations.find((f) => f.location === l.location)!.last_scan_at!) - 1);

    for (const [key, content] of contents) {
      for (const location of LOCATIONS) {
        if (key === 'drift/moved-away.bin' && location === 'azure') continue;
        const read = await call('GET', `/files/${location}/${key}`);
        expect(read.statusCode, `${location} ${key}`).toBe(200);
        expect(sha256(read.rawPayload), `${location} ${key}`).toBe(sha256(content));
      }
    }
    await expect(raw('aws').head('drift/stray.bin')).rejects.toMatchObject({ code: 'not_found' });
    await expect(raw('azure').head(movedAwayObject)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a repair whose first source is gone too copies from the next verified copy at once, and marks the gone one failed', async () => {
    const { stores, metadata, replicator } = app.context;
    const content = randomBytes(30_000);
    const put = await call('PUT', '/files/aws/drift/two-lost.bin?replicas=azure,gcp', content);
    expect(put.statusCode, put.body).toBe(201);
    const file = (await metadata.findFileByKey('drift/two-lost.bin'))!;
    // Lost at aws (known: failed) and at azure (not yet known: the metadata still says verified).
    for (const location of ['aws', 'azure']) await stores.get(location)!.inner.delete(await storedKeyOf(metadata, 'drift/two-lost.bin', location));
    await metadata.transitionReplica({ fileId: file.id, version: 1, location: 'aws' }, { from: 'verified', to: 'failed', lastError: 'lost (test)' });

    const before = (await metadata.listReplicasOfFile(file.id)).find((r) => r.location === 'aws')!.attempts;
    // azure is the preferred source (an age copy, listed first); it is gone, so gcp serves, in
    // this one attempt (before, it failed with not_found and waited for a retry and a scan).
    const repaired = await replicator.replicate('admin', file.id, 'aws', { sources: ['azure', 'gcp'] });
    expect(repaired.state).toBe('verified');
    expect(repaired.attempts).toBe(before + 1);
    const azure = (await metadata.listReplicasOfFile(file.id)).find((r) => r.location === 'azure' && r.version === 1)!;
    expect(azure.state).toBe('failed');
    expect(azure.lastError).toContain('found while copying it to aws');
    const read = await call('GET', '/files/aws/drift/two-lost.bin');
    expect(read.statusCode).toBe(200);
    expect(sha256(read.rawPayload)).toBe(sha256(content));
  });
});

/**
 * Provider outage: a private MinIO (the S3 location) is stopped in the middle of a run of
 * fan-out writes. The writes still complete at the other locations; each S3 copy becomes a
 * replication job that waits with retries (backoff with jitter). When MinIO comes back, the
 * jobs and the periodic drift scans bring every location to drift 0 with nobody acting.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startPrivateMinio, type PrivateServer } from '../../src/lab/index.ts';
import { labEnv } from '../lab.ts';
import { until } from '../until.ts';

const ADMIN = 'demo-admin-token-for-the-outage-test';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Status {
  drift_total: number;
  retries: { retrying: number; dead: number };
  locations: Array<{ location: string; last_scan_at: string | null; drift: Record<string, number> | null }>;
  jobs: Record<string, Record<string, number>>;
}
interface Written {
  replicas: Array<{ location: string; state: string; job_id: string | null }>;
}

describe('an S3 outage in the middle of a run', () => {
  let minio: PrivateServer;
  let app: App;
  let dataDir: string;
  const contents = new Map<string, Buffer>();

  async function call(method: 'GET' | 'PUT' | 'POST', url: string, body?: Buffer | object) {
    const json = body !== undefined && !Buffer.isBuffer(body);
    return app.api.inject({
      method,
      url,
      headers: { authorization: `Bearer ${ADMIN}`, ...(json ? { 'content-type': 'application/json' } : {}) },
      ...(body === undefined ? {} : { payload: json ? JSON.stringify(body) : body }),
    });
  }

  async function status(): Promise<Status> {
    return (await call('GET', '/consistency/status')).json<Status>();
  }

  async function write(primary: string, key: string, others: string): Promise<{ status: number; body: Written }> {
    const content = randomBytes(64 * 1024 + contents.size);
    contents.set(key, content);
    const response = await call('PUT', `/files/${primary}/${key}?replicas=${others}`, content);
    return { status: response.statusCode, body: response.json<Written>() };
  }

  beforeAll(async () => {
    minio = await startPrivateMinio();
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-outage-'));
    const bucket = `outage-${process.pid}`;
    app = await createApp(
      loadConfig({
        ...labEnv(),
        ...minio.env,
        DATABASE_SCHEMA: `outage_${process.pid}`,
        S3_BUCKET: bucket,
        AZURE_CONTAINER: bucket,
        GCS_BUCKET: bucket,
        MOVINGDATA_DEMO: '1',
        MOVINGDATA_ADMIN_TOKEN: ADMIN,
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: 'silent',
        MOVINGDATA_JOB_POLL_MS: '50',
        MOVINGDATA_RETRY_BASE_MS: '200',
        MOVINGDATA_RETRY_CAP_MS: '2000',
        MOVINGDATA_JOB_MAX_ATTEMPTS: '50',
        CONSISTENCY_SCAN_INTERVAL_S: '1',
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await minio?.dispose();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('completes the other copies, retries the S3 ones, and converges to drift 0 when MinIO is back', async () => {
    for (let i = 0; i < 10; i++) {
      const before = await write('azure', `outage/before-${i}.bin`, 'aws,gcp');
      expect(before.status).toBe(201);
      expect(before.body.replicas.every((r) => r.state === 'verified')).toBe(true);
    }

    await minio.stop();
    const during: Written[] = [];
    for (let i = 0; i < 10; i++) {
      const written = await write('azure', `outage/during-${i}.bin`, 'aws,gcp');
      expect(written.status).toBe(201);
      during.push(written.body);
    }
    // Written to S3 first: the copy there waits; the version lives at azure and gcp already.
    const primaryDown = await write('aws', 'outage/primary-down.bin', 'azure,gcp');
    expect(primaryDown.status).toBe(202);
    during.push(primaryDown.body);
    for (const body of during) {
      expect(Object.fromEntries(body.replicas.map((r) => [r.location, r.state]))).toEqual({ aws: 'pending', azure: 'verified', gcp: 'verified' });
      expect(body.replicas.find((r) => r.location === 'aws')?.job_id).toEqual(expect.any(String));
    }
    // The S3 copies wait with retries while MinIO is down; the others read fine meanwhile.
    await until('the S3 copies to be retrying', async () => ((await status()).jobs['replicate']?.['retrying'] ?? 0) > 0 || undefined, 20_000, 100);
    const meanwhile = await call('GET', '/files/gcp/outage/during-3.bin');
    expect(sha256(meanwhile.rawPayload)).toBe(sha256(contents.get('outage/during-3.bin')!));

    await minio.start();
    const back = Date.now();
    const converged = await until(
      'drift 0 at every location, from scans after MinIO came back, with no replication left',
      async () => {
        const s = await status();
        const fresh = s.locations.every((l) => l.last_scan_at !== null && Date.parse(l.last_scan_at) > back && l.drift !== null);
        const open = (s.jobs['replicate']?.['queued'] ?? 0) + (s.jobs['replicate']?.['running'] ?? 0) + (s.jobs['repair']?.['queued'] ?? 0) + (s.jobs['repair']?.['running'] ?? 0);
        return fresh && open === 0 && s.drift_total === 0 ? s : undefined;
      },
      90_000,
      100,
    );
    expect(converged.retries.dead).toBe(0);

    for (const [key, content] of contents) {
      const read = await call('GET', `/files/aws/${key}`);
      expect(read.statusCode, key).toBe(200);
      expect(sha256(read.rawPayload), key).toBe(sha256(content));
    }
    const inventory = (await call('GET', '/files?prefix=outage/&limit=100')).json<{ items: Array<{ key: string; replicas: Array<{ location: string; state: string }> }> }>();
    expect(inventory.items).toHaveLength(contents.size);
    for (const item of inventory.items) expect(item.replicas.map((r) => `${r.location}:${r.state}`).sort(), item.key).toEqual(['aws:verified', 'azure:verified', 'gcp:verified']);
  }, 180_000);
});


/**
 * The file API end to end, through the real control plane (createApp): on embedded defaults
 * and on the lab's real servers. Uploads are encrypted on the way in, downloads decrypted,
 * every call authenticated, authorised per location and audited.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { formatFernetKey, generateFernetKey } from '../../src/crypto/fernet/fernet.ts';
import { labEnv } from '../lab.ts';
import { labS3Client } from '../lab-s3.ts';
import { emptyContainer, storedKeyOf } from '../objects.ts';

const ADMIN = 'demo-admin-token-for-tests-0123456789';

interface ErrorBody {
  error: { code: string; message: string };
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

const setups: Array<[string, () => Record<string, string>]> = [
  ['embedded defaults', () => ({})],
  ['the lab', () => ({ ...labEnv(), DATABASE_SCHEMA: `files_${process.pid}`, S3_BUCKET: 'files-api', AZURE_CONTAINER: 'files-api', GCS_BUCKET: 'files-api' })],
];

describe.each(setups)('file API on %s', (label, environment) => {
  let app: App;
  let dataDir: string;
  const tokens: Record<string, string> = {};
  const fernet = formatFernetKey(generateFernetKey());

  async function call(method: 'GET' | 'PUT' | 'HEAD' | 'DELETE' | 'POST', url: string, options: { token?: string; body?: Buffer | Readable | string; headers?: Record<string, string> } = {}) {
    return app.api.inject({
      method,
      url,
      headers: { ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }), ...options.headers },
      ...(options.body === undefined ? {} : { payload: options.body }),
    });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-files-'));
    app = await createApp(
      loadConfig({ ...environment(), MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: ADMIN, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent', AZURE_ENCRYPTION_KEY: fernet }),
    );
    // A clean slate on the lab: earlier runs' objects would be this run's orphans.
    if (label === 'the lab') for (const store of app.context.stores.values()) await store.ensureContainer().then(() => emptyContainer(store.inner));
    for (const [name, roles] of [
      ['analyst', ['analytics']],
      ['operator', ['operations']],
      ['auditor', ['compliance']],
    ] as const) {
      const created = await call('POST', '/tokens', { token: ADMIN, body: JSON.stringify({ name, roles }), headers: { 'content-type': 'application/json' } });
      expect(created.statusCode).toBe(201);
      tokens[name] = created.json<{ token: string }>().token;
    }
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a call without a token (401) and a role without access to the location (403, audited)', async () => {
    const anonymous = await call('PUT', '/files/aws/denied.txt', { body: 'x' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json<ErrorBody>().error.code).toBe('unauthenticated');
    expect(anonymous.headers['www-authenticate']).toContain('Bearer');

    const wrongRole = await call('PUT', '/files/azure/denied.txt', { token: tokens['analyst'], body: 'x' });
    expect(wrongRole.statusCode).toBe(403);
    expect(wrongRole.json<ErrorBody>().error.code).toBe('forbidden');
    const read = await call('GET', '/files/aws/denied.txt', { token: tokens['operator'] });
    expect(read.statusCode).toBe(403);

    const head = await app.context.audit.verify();
    expect(head.ok).toBe(true);
    const entries = [];
    for await (const entry of app.context.audit.export()) entries.push(entry);
    expect(entries.filter((e) => e.action === 'denied' && e.principal === 'analyst' && e.location === 'azure')).toHaveLength(1);
    expect(entries.filter((e) => e.action === 'denied' && e.principal === 'operator' && e.location === 'aws')).toHaveLength(1);
  });

  it('stores what it is given encrypted, and gives it back decrypted, whole and in ranges', async () => {
    const content = randomBytes(200 * 1024 + 7);
    const put = await call('PUT', '/files/aws/reports/2026/q1 data+final%25.bin', {
      token: tokens['analyst'],
      body: content,
      headers: { 'content-type': 'application/x-test', 'x-meta-owner': 'analytics-team' },
    });
    expect(put.statusCode).toBe(201);
    const written = put.json<{ key: string; size: number; sha256: string; key_id: string; version: number; stored_size: number }>();
    expect(written.key).toBe('reports/2026/q1 data+final%.bin');
    expect(written.size).toBe(content.length);
    expect(written.sha256).toBe(sha256(content));
    expect(written.key_id).toMatch(/^age:[0-9a-f]{16}$/);
    expect(written.stored_size).toBeGreaterThan(content.length);

    const raw = await app.context.stores.get('aws')!.inner.get(await storedKeyOf(app.context.metadata, written.key, 'aws'));
    const first = (await raw.body.toArray()) as Buffer[];
    expect(Buffer.concat(first).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    expect(Buffer.concat(first).includes(content.subarray(0, 64))).toBe(false);

    const url = '/files/aws/reports/2026/q1%20data%2Bfinal%25.bin';
    const got = await call('GET', url, { token: tokens['analyst'] });
    expect(got.statusCode).toBe(200);
    expect(got.rawPayload.equals(content)).toBe(true);
    expect(got.headers['content-type']).toBe('application/x-test');
    expect(got.headers['etag']).toBe(`"${sha256(content)}"`);
    expect(got.headers['x-meta-owner']).toBe('analytics-team');

    const slice = await call('GET', url, { token: tokens['analyst'], headers: { range: 'bytes=65530-131080' } });
    expect(slice.statusCode).toBe(206);
    expect(slice.headers['content-range']).toBe(`bytes 65530-131080/${content.length}`);
    expect(slice.rawPayload.equals(content.subarray(65530, 131081))).toBe(true);

    const tail = await call('GET', url, { token: tokens['analyst'], headers: { range: 'bytes=-10' } });
    expect(tail.statusCode).toBe(206);
    expect(tail.rawPayload.equals(content.subarray(content.length - 10))).toBe(true);

    const beyond = await call('GET', url, { token: tokens['analyst'], headers: { range: `bytes=${content.length}-` } });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${content.length}`);

    const head = await call('HEAD', url, { token: tokens['analyst'] });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(content.length));
    expect(head.headers['x-movingdata-sha256']).toBe(sha256(content));
    expect(head.headers['x-movingdata-version']).toBe(String(written.version));
  });

  it('streams an upload of unknown length (chunked) and records the version in the metadata', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 11);
    const put = await call('PUT', '/files/aws/chunked/stream.bin', { token: tokens['analyst'], body: Readable.from([content.subarray(0, 1000), content.subarray(1000)]) });
    expect(put.statusCode).toBe(201);
    const file = await app.context.metadata.findFileByKey('chunked/stream.bin');
    expect(file?.currentVersion).toBe(1);
    const version = await app.context.metadata.getVersion(file!.id, 1);
    expect(version).toMatchObject({ state: 'committed', size: content.length, sha256: sha256(content), writtenBy: 'analyst' });
    const [replica] = await app.context.metadata.listReplicasOfVersion(file!.id, 1);
    expect(replica).toMatchObject({ location: 'aws', state: 'verified' });
    // The version's own object name: the key, then the version (src/replication/object-names.ts).
    expect(replica?.objectKey).toMatch(/^chunked\/stream\.bin~v1\.[0-9a-f]{12}$/);
    const got = await call('GET', '/files/aws/chunked/stream.bin', { token: tokens['analyst'] });
    expect(sha256(got.rawPayload)).toBe(sha256(content));
  });

  it('writes and reads Fernet tokens at a location configured with a Fernet key (the seed format)', async () => {
    const content = Buffer.from('seed-compatible file body');
    const put = await call('PUT', '/files/azure/seed/file_001.txt', { token: tokens['operator'], body: content });
    expect(put.statusCode).toBe(201);
    expect(put.json<{ key_id: string }>().key_id).toMatch(/^fernet:/);
    const raw = Buffer.concat((await (await app.context.stores.get('azure')!.inner.get(await storedKeyOf(app.context.metadata, 'seed/file_001.txt', 'azure'))).body.toArray()) as Buffer[]);
    expect(raw.toString('ascii')).toMatch(/^gAAAAA/);
    const got = await call('GET', '/files/azure/seed/file_001.txt', { token: tokens['operator'] });
    expect(got.rawPayload.equals(content)).toBe(true);
  });

  it('refuses bad keys with 400 invalid_key and stores nothing', async () => {
    // Over a real socket with the path sent verbatim: URL parsers (fetch, inject) would resolve
    // dot segments before the server ever saw them, which is not what a hostile client does.
    const address = new URL(await app.listen());
    const raw = (path: string) =>
      new Promise<{ status: number; code: string }>((resolve, reject) => {
        const req = httpRequest({ host: address.hostname, port: address.port, method: 'PUT', path, headers: { authorization: `Bearer ${tokens['analyst']}`, 'content-length': '1' } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as ErrorBody).error.code }));
        });
        req.on('error', reject);
        req.end('x');
      });
    const tooLong = encodeURIComponent('k'.repeat(1025));
    for (const path of ['/files/aws/', '/files/aws/a/../b', '/files/aws/a/%2E%2E/b', '/files/aws/..', '/files/aws/./x', '/files/aws/nul%00byte', `/files/aws/${tooLong}`, '/files/aws/ctrl%0Achar']) {
      const response = await raw(path);
      expect(response.status, path).toBe(400);
      expect(response.code, path).toBe('invalid_key');
    }
    for (const key of ['b', 'a/../b', 'x']) expect(await app.context.metadata.findFileByKey(key), key).toBeUndefined();
    const unknown = await call('PUT', '/files/mars/thing', { token: tokens['analyst'], body: 'x' });
    expect(unknown.statusCode).toBe(404);
  });

  it('detects a tampered object: an error status, never plaintext', async () => {
    const content = Buffer.from('do not tamper with me');
    await call('PUT', '/files/aws/tamper/me.txt', { token: tokens['analyst'], body: content });
    const inner = app.context.stores.get('aws')!.inner;
    const stored = await storedKeyOf(app.context.metadata, 'tamper/me.txt', 'aws');
    const info = await inner.head(stored);
    const raw = Buffer.concat((await (await inner.get(stored)).body.toArray()) as Buffer[]);
    raw[raw.length - 5] = raw[raw.length - 5]! ^ 0xff;
    await inner.put(stored, Readable.from([raw]), { size: raw.length, metadata: info.metadata });
    const got = await call('GET', '/files/aws/tamper/me.txt', { token: tokens['analyst'] });
    expect(got.statusCode).toBe(422);
    expect(got.json<ErrorBody>().error.code).toBe('decryption_failed');
    expect(got.rawPayload.includes(content)).toBe(false);
    // The copy is known damaged now: later reads say so without touching it.
    const again = await call('GET', '/files/aws/tamper/me.txt', { token: tokens['analyst'] });
    expect([again.statusCode, again.json<ErrorBody>().error.code]).toEqual([422, 'integrity_mismatch']);
  });

  it('deletes a location copy (204), then reports 404', async () => {
    await call('PUT', '/files/gcp/delete/me.txt', { token: tokens['auditor'], body: 'bye' });
    const deleted = await call('DELETE', '/files/gcp/delete/me.txt', { token: tokens['auditor'] });
    expect(deleted.statusCode).toBe(204);
    const gone = await call('GET', '/files/gcp/delete/me.txt', { token: tokens['auditor'] });
    expect(gone.statusCode).toBe(404);
    expect(await app.context.metadata.findFileByKey('delete/me.txt')).toBeUndefined();
  });

  it('keeps an intact audit chain recording who did what, where, with which key and checksum', async () => {
    const verify = await call('GET', '/audit/verify', { token: ADMIN });
    expect(verify.statusCode).toBe(200);
    expect(verify.json<{ ok: boolean }>().ok).toBe(true);
    const exported = await call('GET', '/audit/export', { token: ADMIN });
    const lines = exported.payload
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; principal: string; location: string | null; key_id: string | null; sha256: string | null; object_key: string | null });
    const write = lines.find((l) => l.action === 'write' && l.object_key === 'chunked/stream.bin');
    expect(write).toMatchObject({ principal: 'analyst', location: 'aws' });
    expect(write?.key_id).toMatch(/^age:/);
    expect(write?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lines.some((l) => l.action === 'read' && l.object_key === 'chunked/stream.bin' && l.sha256 === write?.sha256)).toBe(true);
    expect(lines.some((l) => l.action === 'delete' && l.location === 'gcp')).toBe(true);
  });

  it('rotates a location key: headers re-wrapped by a job (202, progress), payloads untouched, everything still readable, drift 0', async () => {
    const content = randomBytes(150_000);
    await call('PUT', '/files/gcp/rotate/one.bin', { token: tokens['auditor'], body: content });
    await call('PUT', '/files/gcp/rotate/two.bin', { token: tokens['auditor'], body: 'second' });
    const inner = app.context.stores.get('gcp')!.inner;
    const storedBefore = await storedKeyOf(app.context.metadata, 'rotate/one.bin', 'gcp');
    const before = Buffer.concat((await (await inner.get(storedBefore)).body.toArray()) as Buffer[]);

    expect((await call('POST', '/keys/gcp/rotate', { token: tokens['auditor'] })).statusCode).toBe(403);
    const rotated = await call('POST', '/keys/gcp/rotate?wait=true', { token: ADMIN });
    expect(rotated.statusCode).toBe(200);
    const report = rotated.json<{ previous_key_id: string; active_key_id: string; job: { state: string; progress: { rewrapped: number; failed: number; done: boolean } } }>();
    expect(report.active_key_id).not.toBe(report.previous_key_id);
    expect(report.job.state).toBe('succeeded');
    expect(report.job.progress.rewrapped).toBeGreaterThanOrEqual(2);
    expect(report.job.progress).toMatchObject({ failed: 0, done: true });

    // Re-wrapped into a new object, then switched to, then the old one removed.
    const storedAfter = await storedKeyOf(app.context.metadata, 'rotate/one.bin', 'gcp');
    expect(storedAfter).not.toBe(storedBefore);
    await expect(inner.head(storedBefore)).rejects.toMatchObject({ code: 'not_found' });
    const after = Buffer.concat((await (await inner.get(storedAfter)).body.toArray()) as Buffer[]);
    const header = before.indexOf('\n---') + 48; // through the MAC line (43 base64 chars + '--- ' + LF)
    expect(after.subarray(header).equals(before.subarray(header))).toBe(true);
    expect(after.subarray(0, header).equals(before.subarray(0, header))).toBe(false);
    const got = await call('GET', '/files/gcp/rotate/one.bin', { token: tokens['auditor'] });
    expect(got.rawPayload.equals(content)).toBe(true);
    const live = await app.context.metadata.liveReplicaAt('rotate/one.bin', 'gcp');
    expect(live?.replica.encryption?.keyIds).toEqual([report.active_key_id]);

    // What the metadata says is what is stored: a scan after the rotation finds nothing.
    const scan = await call('POST', '/consistency/scan', { token: ADMIN, body: JSON.stringify({ locations: ['gcp'], wait: true }), headers: { 'content-type': 'application/json' } });
    expect(scan.json<{ jobs: Array<{ result: { drift: Record<string, number> } }> }>().jobs[0]?.result.drift).toEqual({ missing: 0, differing: 0, conflict: 0, failed: 0, orphan: 0, pending_delete: 0 });

    // Without wait, the rotation answers at once with its job.
    const queued = await call('POST', '/keys/gcp/rotate', { token: ADMIN });
    expect([200, 202]).toContain(queued.statusCode);
    expect(queued.json<{ job: { id: string } }>().job.id).toMatch(/^\d+$/);

    const keys = await call('GET', '/keys', { token: ADMIN });
    const gcp = keys.json<{ locations: Array<{ location: string; active: string; keys: Array<{ id: string }> }> }>().locations.find((l) => l.location === 'gcp');
    expect(gcp?.keys.map((k) => k.id)).toContain(report.previous_key_id);
    expect(gcp?.keys.map((k) => k.id)).toContain(report.active_key_id);
    expect(keys.payload).not.toContain('AGE-SECRET-KEY');
  });

  it('a drift scan racing a key rotation reports no drift and fails no copy; every file reads back after', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `rotrace/${String(i).padStart(2, '0')}.bin`);
    for (const key of keys) expect((await call('PUT', `/files/gcp/${key}`, { token: ADMIN, body: `${key} `.repeat(200) })).statusCode).toBe(201);
    const rotation = await call('POST', '/keys/gcp/rotate', { token: ADMIN });
    const jobId = rotation.json<{ job: { id: string } }>().job.id;
    const drifts: Array<Record<string, number>> = [];
    for (let i = 0; i < 50; i += 1) {
      const scan = await call('POST', '/consistency/scan', { token: ADMIN, body: JSON.stringify({ locations: ['gcp'], wait: true }), headers: { 'content-type': 'application/json' } });
      drifts.push(scan.json<{ jobs: Array<{ result: { drift: Record<string, number> } }> }>().jobs[0]!.result.drift);
      const job = await app.context.jobs.get(jobId);
      if (job.state === 'succeeded' || job.state === 'dead' || job.state === 'failed') break;
    }
    expect((await app.context.jobs.get(jobId)).state).toBe('succeeded');
    expect(drifts.length).toBeGreaterThan(0);
    for (const drift of drifts) expect(drift).toEqual({ missing: 0, differing: 0, conflict: 0, failed: 0, orphan: 0, pending_delete: 0 });
    for (const key of keys) {
      const live = await app.context.metadata.liveReplicaAt(key, 'gcp');
      expect(live?.replica.state, key).toBe('verified');
      const got = await call('GET', `/files/gcp/${key}`, { token: ADMIN });
      expect(got.payload).toBe(`${key} `.repeat(200));
    }
  });

  it.runIf(label === 'the lab')('stores S3 objects with SSE-KMS under netapp-key (proved by HEAD)', async () => {
    await call('PUT', '/files/aws/sse/proof.txt', { token: tokens['analyst'], body: 'server-side encrypted too' });
    const s3 = labS3Client();
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'files-api', Key: await storedKeyOf(app.context.metadata, 'sse/proof.txt', 'aws') }));
    s3.destroy();
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toContain('netapp-key');
  });
});

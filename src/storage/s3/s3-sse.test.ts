/**
 * Proves that what the adapter writes is encrypted with SSE-KMS under the configured key, by
 * asking the server directly (a raw HEAD through the SDK), for every kind of write: a single
 * PUT, a multipart upload, a server-side copy and a tier change.
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labEnv } from '../../../test/lab.ts';
import { labS3Client } from '../../../test/lab-s3.ts';
import { bufferBody, generatedBody } from '../conformance/body.ts';
import { MINIO_STORAGE_CLASSES, S3Store } from './s3-store.ts';

const MiB = 1024 * 1024;

describe('S3 SSE-KMS (MinIO)', () => {
  const bucket = 'mdconf-sse';
  const prefix = `sse-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/`;
  let store: S3Store;
  let raw: S3Client;
  let keyId: string;

  beforeAll(async () => {
    const env = labEnv();
    keyId = env['S3_SSE_KMS_KEY_ID']!;
    const credentials = { accessKeyId: env['S3_ACCESS_KEY']!, secretAccessKey: env['S3_SECRET_KEY']! };
    store = new S3Store({
      location: 'sse',
      bucket,
      endpoint: env['S3_ENDPOINT']!,
      region: env['S3_REGION']!,
      credentials,
      forcePathStyle: true,
      sseKms: { keyId },
      storageClasses: MINIO_STORAGE_CLASSES,
    });
    raw = labS3Client(env);
    await store.ensureContainer();
  });

  afterAll(async () => {
    const page = await store.listPage(prefix);
    await Promise.all(page.items.map((item) => store.delete(item.key)));
    await store.close();
    raw.destroy();
  });

  async function expectKmsEncrypted(key: string): Promise<void> {
    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ServerSideEncryption, key).toBe('aws:kms');
    expect(head.SSEKMSKeyId, key).toContain(keyId);
  }

  it('encrypts a single PUT, reporting its CRC32 and no MD5', async () => {
    const key = `${prefix}single`;
    const body = bufferBody('encrypted at rest');
    const put = await store.put(key, body.stream, { size: body.bytes.length });
    await expectKmsEncrypted(key);
    expect(put.checksums).toEqual({ crc32: body.digest.checksums.crc32 });
    expect((await store.head(key)).checksums).toEqual({ crc32: body.digest.checksums.crc32 });
  });

  it('encrypts a multipart upload, reporting its full-object CRC32', async () => {
    const key = `${prefix}multipart`;
    const body = generatedBody(9 * MiB + 17);
    const put = await store.put(key, body.stream);
    const sent = await body.digest;
    expect(put.etag).toMatch(/-\d+$/);
    await expectKmsEncrypted(key);
    expect(put.checksums).toEqual({ crc32: sent.checksums.crc32 });
    expect((await store.head(key)).checksums).toEqual({ crc32: sent.checksums.crc32 });
  });

  it('encrypts the target of a server-side copy', async () => {
    const source = `${prefix}copy-source`;
    const target = `${prefix}copy-target`;
    const body = bufferBody('copied, still encrypted');
    await store.put(source, body.stream, { size: body.bytes.length });
    const info = await store.copy(source, target);
    await expectKmsEncrypted(target);
    expect(info.checksums).toEqual({ crc32: body.digest.checksums.crc32 });
  });

  it('keeps an object encrypted through tier changes', async () => {
    const key = `${prefix}tiered`;
    const body = bufferBody('tiered, still encrypted');
    await store.put(key, body.stream, { size: body.bytes.length });
    await store.setTier(key, 'REDUCED_REDUNDANCY');
    await expectKmsEncrypted(key);
    expect((await store.head(key)).tier).toBe('REDUCED_REDUNDANCY');
    await store.setTier(key, 'STANDARD');
    await expectKmsEncrypted(key);
    expect((await store.head(key)).tier).toBe('STANDARD');
  });
});

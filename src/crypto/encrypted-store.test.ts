import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { labEnv } from '../../test/lab.ts';
import { isMovingDataError } from '../errors.ts';
import { bufferBody, digestStream, generatedBody } from '../storage/conformance/body.ts';
import { runStoreConformance } from '../storage/conformance/suite.ts';
import { LocalStore } from '../storage/local/local-store.ts';
import type { ObjectStore } from '../storage/port.ts';
import { MINIO_STORAGE_CLASSES, S3Store } from '../storage/s3/s3-store.ts';
import { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, formatIdentityFile, generateIdentity, type X25519Identity } from './age/index.ts';
import { EncryptedStore, META_FORMAT, META_KEY, ONE_RECIPIENT_HEADER_BYTES, type KeyUse } from './encrypted-store.ts';
import { formatFernetKey, generateFernetKey } from './fernet/fernet.ts';
import { ageKey, fernetKey } from './keys/key-text.ts';
import type { LocationKey, LocationKeys } from './keys/port.ts';

const root = mkdtempSync(join(tmpdir(), 'movingdata-encrypted-'));

function keysOf(location: string, active: LocationKey, ...older: LocationKey[]): () => LocationKeys {
  return () => ({ location, active, all: [active, ...older] });
}

function encrypted(inner: ObjectStore, keys: () => LocationKeys, onKeyUse?: (use: KeyUse) => void, fernetMaxBytes?: number): EncryptedStore {
  return new EncryptedStore({ inner, keys, ...(onKeyUse ? { onKeyUse } : {}), ...(fernetMaxBytes ? { fernetMaxBytes } : {}) });
}

async function rawBytes(store: ObjectStore, key: string): Promise<Buffer> {
  return (await digestStream((await store.get(key)).body, { keep: true })).bytes!;
}

async function putRaw(store: ObjectStore, key: string, bytes: Buffer, metadata: Record<string, string>): Promise<void> {
  await store.put(key, Readable.from([bytes]), { size: bytes.length, metadata });
}

async function expectFailure(promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isMovingDataError(err), `expected ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  return err as Error;
}

/** Reads a plaintext stream; returns the bytes released before it failed, and the failure. */
async function readUntilFailure(body: Readable): Promise<{ released: Buffer; error: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) parts.push(chunk);
    return { released: Buffer.concat(parts), error: undefined };
  } catch (error) {
    return { released: Buffer.concat(parts), error };
  }
}

const identity = generateIdentity();
runStoreConformance({
  name: 'encrypted (age) over local disk',
  open: (container) => encrypted(new LocalStore({ location: 'aws', root: join(root, container) }), keysOf('aws', ageKey(identity))),
  badCredentials: { skip: 'local disk has no credentials' },
  stoppedServer: { skip: 'local disk has no server to stop' },
});

runStoreConformance({
  name: 'encrypted (age) over s3 (MinIO, SSE-KMS)',
  container: 'mdconf-encrypted',
  serverLimits: { fileAndDirectory: 'MinIO lists only `a` when both `a` and `a/b` exist' },
  open: (bucket) => {
    const env = labEnv();
    const inner = new S3Store({
      location: 'aws',
      bucket,
      endpoint: env['S3_ENDPOINT']!,
      region: env['S3_REGION']!,
      credentials: { accessKeyId: env['S3_ACCESS_KEY']!, secretAccessKey: env['S3_SECRET_KEY']! },
      forcePathStyle: true,
      sseKms: { keyId: env['S3_SSE_KMS_KEY_ID']! },
      storageClasses: MINIO_STORAGE_CLASSES,
      keyRules: 'minio',
    });
    return encrypted(inner, keysOf('aws', ageKey(identity)));
  },
  badCredentials: { skip: 'covered by the S3 adapter suite; encryption does not change authentication' },
  stoppedServer: { skip: 'covered by the S3 adapter suite' },
});

describe('encrypted store: what is stored, and what is refused', () => {
  let inner: LocalStore;
  let aws: X25519Identity;
  let azure: X25519Identity;
  const uses: KeyUse[] = [];
  let store: EncryptedStore;

  beforeAll(async () => {
    inner = new LocalStore({ location: 'aws', root: join(root, 'behaviour') });
    await inner.ensureContainer();
    aws = generateIdentity();
    azure = generateIdentity();
    store = encrypted(inner, keysOf('aws', ageKey(aws)), (use) => uses.push(use));
  });

  it('stores an age file that the real `age` binary decrypts with the location identity', async () => {
    const body = generatedBody(3 * CHUNK_SIZE + 17);
    const put = await store.put('cli/interop.bin', body.stream);
    const sent = await body.digest;
    expect(put.checksums.sha256).toBe(sent.sha256);
    const raw = await rawBytes(inner, 'cli/interop.bin');
    expect(raw.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(raw.length).toBe(ONE_RECIPIENT_HEADER_BYTES + NONCE_SIZE + 4 * ENCRYPTED_CHUNK_SIZE - (CHUNK_SIZE - 17));
    const dir = mkdtempSync(join(tmpdir(), 'movingdata-age-cli-'));
    writeFileSync(join(dir, 'key.txt'), formatIdentityFile(aws), { mode: 0o600 });
    writeFileSync(join(dir, 'object.age'), raw);
    const plaintext = execFileSync('age', ['-d', '-i', join(dir, 'key.txt'), join(dir, 'object.age')]);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(plaintext).digest('hex')).toBe(sent.sha256);
    expect(uses.some((u) => u.operation === 'encrypt' && u.objectKey === 'cli/interop.bin' && u.keyId === ageKey(aws).id)).toBe(true);
  });

  it('reads what the real `age -r` wrote to the location recipient', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'movingdata-age-cli-'));
    writeFileSync(join(dir, 'plain.txt'), 'written by age itself\n');
    const sealed = execFileSync('age', ['-r', aws.recipient.toString(), join(dir, 'plain.txt')]);
    await putRaw(inner, 'cli/from-age.txt', sealed, {});
    expect((await store.head('cli/from-age.txt')).size).toBe('written by age itself\n'.length);
    const got = await digestStream((await store.get('cli/from-age.txt')).body, { keep: true });
    expect(got.bytes?.toString()).toBe('written by age itself\n');
  });

  it("refuses another location's key before releasing anything", async () => {
    const body = bufferBody('secret for aws only');
    await store.put('keys/aws-only', body.stream, { size: body.bytes.length });
    const other = encrypted(inner, keysOf('azure', ageKey(azure)));
    const err = await expectFailure(other.get('keys/aws-only'), 'decryption_failed');
    expect(err.message).toMatch(/no identity/i);
    await expectFailure(other.get('keys/aws-only', { range: { start: 0, end: 3 } }), 'decryption_failed');
  });

  it('detects a flipped bit in the only chunk before answering', async () => {
    const body = bufferBody('tamper with me');
    await store.put('tamper/small', body.stream, { size: body.bytes.length });
    const info = await inner.head('tamper/small');
    const raw = await rawBytes(inner, 'tamper/small');
    raw[raw.length - 20] = raw[raw.length - 20]! ^ 0x01;
    await putRaw(inner, 'tamper/small', raw, info.metadata);
    await expectFailure(store.get('tamper/small'), 'decryption_failed');
  });

  it('detects a tampered header (MAC) before answering', async () => {
    const body = bufferBody('header tamper');
    await store.put('tamper/header', body.stream, { size: body.bytes.length });
    const info = await inner.head('tamper/header');
    const raw = await rawBytes(inner, 'tamper/header');
    const at = raw.indexOf('---') - 5;
    raw[at] = raw[at] === 0x41 ? 0x42 : 0x41;
    await putRaw(inner, 'tamper/header', raw, info.metadata);
    await expectFailure(store.get('tamper/header'), 'decryption_failed');
  });

  it('releases only verified chunks when a later chunk is tampered, then fails', async () => {
    const body = generatedBody(5 * CHUNK_SIZE);
    await store.put('tamper/large', body.stream);
    await body.digest;
    const plaintext = await rawBytes(store, 'tamper/large');
    const info = await inner.head('tamper/large');
    const raw = await rawBytes(inner, 'tamper/large');
    const chunk3 = ONE_RECIPIENT_HEADER_BYTES + NONCE_SIZE + 3 * ENCRYPTED_CHUNK_SIZE + 100;
    raw[chunk3] = raw[chunk3]! ^ 0x80;
    await putRaw(inner, 'tamper/large', raw, info.metadata);
    const got = await store.get('tamper/large');
    const { released, error } = await readUntilFailure(got.body);
    expect(isMovingDataError(error) && error.code === 'decryption_failed').toBe(true);
    expect(released.length).toBe(3 * CHUNK_SIZE);
    expect(released.equals(plaintext.subarray(0, 3 * CHUNK_SIZE))).toBe(true);
  });

  it('detects truncation and reordered chunks', async () => {
    const body = generatedBody(4 * CHUNK_SIZE + 5);
    await store.put('tamper/shape', body.stream);
    await body.digest;
    const info = await inner.head('tamper/shape');
    const raw = await rawBytes(inner, 'tamper/shape');
    const chunks = ONE_RECIPIENT_HEADER_BYTES + NONCE_SIZE;

    await putRaw(inner, 'tamper/truncated', raw.subarray(0, chunks + 2 * ENCRYPTED_CHUNK_SIZE), info.metadata);
    const truncated = await readUntilFailure((await store.get('tamper/truncated')).body);
    expect(isMovingDataError(truncated.error) && truncated.error.code === 'decryption_failed').toBe(true);

    const swapped = Buffer.concat([
      raw.subarray(0, chunks),
      raw.subarray(chunks + ENCRYPTED_CHUNK_SIZE, chunks + 2 * ENCRYPTED_CHUNK_SIZE),
      raw.subarray(chunks, chunks + ENCRYPTED_CHUNK_SIZE),
      raw.subarray(chunks + 2 * ENCRYPTED_CHUNK_SIZE),
    ]);
    await putRaw(inner, 'tamper/swapped', swapped, info.metadata);
    await expectFailure(store.get('tamper/swapped'), 'decryption_failed');
  });

  it('lets a recipient-only location write but not read', async () => {
    const writeOnly = encrypted(inner, keysOf('aws', ageKey(aws.recipient)));
    const body = bufferBody('drop box');
    await writeOnly.put('write-only/object', body.stream, { size: body.bytes.length });
    await expectFailure(writeOnly.get('write-only/object'), 'forbidden');
    const got = await digestStream((await store.get('write-only/object')).body, { keep: true });
    expect(got.bytes?.toString()).toBe('drop box');
  });

  it('re-wraps to a rotated key without touching the payload', async () => {
    const body = generatedBody(2 * CHUNK_SIZE + 3);
    await store.put('rotate/object', body.stream, { metadata: { owner: 'rotation' } });
    const sent = await body.digest;
    const before = await rawBytes(inner, 'rotate/object');

    const rotated = generateIdentity();
    const afterRotation = encrypted(inner, keysOf('aws', ageKey(rotated), ageKey(aws)));
    const result = await afterRotation.rewrap('rotate/object', 'rotate/object.rewrapped');
    expect(result).toMatchObject({ changed: true, from: ageKey(aws).id, to: ageKey(rotated).id, key: 'rotate/object.rewrapped' });
    expect(await afterRotation.rewrap('rotate/object.rewrapped', 'rotate/object.again')).toEqual({ changed: false, keyId: ageKey(rotated).id });
    // The source is left as it was: the caller switches its records, then removes it.
    expect((await rawBytes(inner, 'rotate/object')).equals(before)).toBe(true);

    const after = await rawBytes(inner, 'rotate/object.rewrapped');
    expect(after.length).toBe(result.changed ? result.storedSize : -1);
    expect(after.subarray(ONE_RECIPIENT_HEADER_BYTES).equals(before.subarray(ONE_RECIPIENT_HEADER_BYTES))).toBe(true);
    expect(after.subarray(0, ONE_RECIPIENT_HEADER_BYTES).equals(before.subarray(0, ONE_RECIPIENT_HEADER_BYTES))).toBe(false);
    expect(result.changed && result.sealSha256).toBe(createHash('sha256').update(after.subarray(0, ONE_RECIPIENT_HEADER_BYTES)).digest('hex'));
    const stored = await inner.head('rotate/object.rewrapped');
    expect(stored.metadata[META_KEY]).toBe(ageKey(rotated).id);
    expect(stored.metadata['owner']).toBe('rotation');

    const newOnly = encrypted(inner, keysOf('aws', ageKey(rotated)));
    expect((await digestStream((await newOnly.get('rotate/object.rewrapped')).body)).sha256).toBe(sent.sha256);
    await expectFailure(store.get('rotate/object.rewrapped'), 'decryption_failed');
  });

  it('refuses, before any plaintext, an object that is not the one recorded: another object of the same size, a truncated one, a re-sealed token', async () => {
    const a = await store.put('seal/a', bufferBody('A'.repeat(1000)).stream);
    await store.put('seal/b', bufferBody('B'.repeat(1000)).stream);
    const expectA = { storedSize: (await inner.head('seal/a')).size, sealSha256: a.sealSha256 };
    expect((await digestStream((await store.get('seal/a', { expect: expectA })).body, { keep: true })).bytes?.toString()).toBe('A'.repeat(1000));
    // b's bytes put where a's were (same size, same key): both reads refuse them, whole and ranged.
    const substitute = async (over: string, from: string, cut?: number) =>
      inner.put(over, Readable.from([(await rawBytes(inner, from)).subarray(0, cut)]), { metadata: (await inner.head(from)).metadata });
    await substitute('seal/a', 'seal/b');
    await expectFailure(store.get('seal/a', { expect: expectA }), 'integrity_mismatch');
    await expectFailure(store.get('seal/a', { expect: expectA, range: { start: 10, end: 20 } }), 'integrity_mismatch');
    // A truncated copy is refused by its size before a byte of it is read.
    await substitute('seal/a', 'seal/b', 900);
    await expectFailure(store.get('seal/a', { expect: expectA }), 'integrity_mismatch');
    // Fernet: the token's digest is the seal.
    const fernetStore = encrypted(inner, keysOf('azure', fernetKey(generateFernetKey())));
    const f1 = await fernetStore.put('seal/f1', bufferBody('one').stream);
    await fernetStore.put('seal/f2', bufferBody('two').stream);
    await substitute('seal/f1', 'seal/f2');
    await expectFailure(fernetStore.get('seal/f1', { expect: { sealSha256: f1.sealSha256 } }), 'integrity_mismatch');
    expect((await digestStream((await fernetStore.get('seal/f1')).body, { keep: true })).bytes?.toString()).toBe('two');
  });

  it('hides its bookkeeping from callers and refuses reserved metadata names', async () => {
    const body = bufferBody('meta');
    await store.put('meta/object', body.stream, { size: 4, metadata: { owner: 'me' } });
    expect((await store.head('meta/object')).metadata).toEqual({ owner: 'me' });
    expect((await inner.head('meta/object')).metadata[META_FORMAT]).toBe('age-v1');
    await expectFailure(store.put('meta/bad', Readable.from([Buffer.from('x')]), { size: 1, metadata: { movingdata_format: 'none' } }), 'invalid_argument');
  });
});

describe('encrypted store: Fernet locations (the seed format)', () => {
  const fernet = fernetKey(generateFernetKey());
  let inner: LocalStore;
  let store: EncryptedStore;

  beforeAll(async () => {
    inner = new LocalStore({ location: 'gcp', root: join(root, 'fernet') });
    await inner.ensureContainer();
    store = encrypted(inner, keysOf('gcp', fernet), undefined, 1024 * 1024);
  });

  it('writes Fernet tokens that Python’s cryptography decrypts, and reads them back', async () => {
    const body = bufferBody(Buffer.from('seed-compatible bytes \u00e9\u0000\u00ff'));
    await store.put('fernet/object', body.stream, { size: body.bytes.length });
    const raw = await rawBytes(inner, 'fernet/object');
    expect(raw.toString('ascii')).toMatch(/^gAAAAA[A-Za-z0-9_-]+=*$/);
    const python = labEnv()['LAB_PYTHON']!;
    const script = 'import sys;from cryptography.fernet import Fernet;sys.stdout.buffer.write(Fernet(sys.argv[1].encode()).decrypt(sys.stdin.buffer.read()))';
    const decrypted = execFileSync(python, ['-c', script, formatFernetKey(fernet.key)], { input: raw });
    expect(decrypted.equals(body.bytes)).toBe(true);
    const got = await digestStream((await store.get('fernet/object')).body, { keep: true });
    expect(got.bytes?.equals(body.bytes)).toBe(true);
    expect((await store.head('fernet/object')).size).toBe(body.bytes.length);
    const slice = await digestStream((await store.get('fernet/object', { range: { start: 2, end: 6 } })).body, { keep: true });
    expect(slice.bytes?.equals(body.bytes.subarray(2, 7))).toBe(true);
  });

  it('refuses an object over the Fernet limit with too_large, and stores nothing', async () => {
    const body = generatedBody(8 * 1024 * 1024);
    await expectFailure(store.put('fernet/too-big', body.stream), 'too_large');
    await expectFailure(inner.head('fernet/too-big'), 'not_found');
  });
});

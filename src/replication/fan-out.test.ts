import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../crypto/age/index.ts';
import { EncryptedStore, ONE_RECIPIENT_HEADER_BYTES } from '../crypto/encrypted-store.ts';
import { generateFernetKey } from '../crypto/fernet/fernet.ts';
import { ageKey, fernetKey } from '../crypto/keys/key-text.ts';
import type { LocationKey } from '../crypto/keys/port.ts';
import { isMovingDataError } from '../errors.ts';
import { bufferBody, digestStream, generatedBody } from '../storage/conformance/body.ts';
import { LocalStore } from '../storage/local/local-store.ts';
import type { ObjectStore, PutOptions, PutResult } from '../storage/port.ts';
import { fanOutWrite, type FanOutTarget } from './fan-out.ts';

const root = mkdtempSync(join(tmpdir(), 'movingdata-fanout-'));
const MiB = 1024 * 1024;

async function location(name: string, key: LocationKey = ageKey(generateIdentity()), wrap?: (inner: ObjectStore) => ObjectStore): Promise<FanOutTarget> {
  const local = new LocalStore({ location: name, root: join(root, name) });
  await local.ensureContainer();
  const inner = wrap ? wrap(local) : local;
  return { location: name, store: new EncryptedStore({ inner, keys: () => ({ location: name, active: key, all: [key] }) }) };
}

/** Everything but `put` goes to the real store (methods bound to it: it has private fields). */
function passThrough(target: ObjectStore, property: string | symbol, receiver: unknown): unknown {
  const value: unknown = Reflect.get(target, property, receiver);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

/** A destination that takes its time: every chunk waits a little before it is written. */
function slow(inner: ObjectStore, delayMs: number): ObjectStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== 'put') return passThrough(target, property, receiver);
      return (key: string, body: Readable, options?: PutOptions): Promise<PutResult> => {
        const throttle = new Transform({
          highWaterMark: 64 * 1024,
          transform(chunk: Buffer, _encoding, callback) {
            setTimeout(() => callback(null, chunk), delayMs);
          },
        });
        return target.put(key, body.pipe(throttle), options);
      };
    },
  });
}

/** A destination that refuses every upload (after reading a little of it). */
function broken(inner: ObjectStore): ObjectStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== 'put') return passThrough(target, property, receiver);
      return async (_key: string, body: Readable): Promise<PutResult> => {
        await new Promise((resolve) => body.once('readable', resolve));
        body.destroy();
        throw new Error('destination refused the upload');
      };
    },
  });
}

/** A destination whose put answers with other figures than the bytes sent (`lie` rewrites it). */
function misreporting(lie: (result: PutResult) => PutResult): (inner: ObjectStore) => ObjectStore {
  return (inner) =>
    new Proxy(inner, {
      get(target, property, receiver) {
        if (property !== 'put') return passThrough(target, property, receiver);
        return async (key: string, body: Readable, options?: PutOptions): Promise<PutResult> => lie(await target.put(key, body, options));
      },
    });
}

async function stored(target: FanOutTarget, key: string): Promise<Buffer> {
  return (await digestStream((await target.store.inner.get(key)).body, { keep: true })).bytes!;
}

describe('fan-out write', () => {
  it('stores one payload at every location, each behind its own header, in one pass', async () => {
    const secondKey = ageKey(generateIdentity());
    const targets = [await location('a1'), await location('a2', secondKey), await location('a3')];
    const body = generatedBody(3 * MiB + 12345);
    const result = await fanOutWrite(body.stream, { key: 'fan/object.bin', targets, contentType: 'application/x-test', metadata: { owner: 'fan' } });
    const sent = await body.digest;
    expect(result.sha256).toBe(sent.sha256);
    expect(result.size).toBe(sent.size);
    expect(result.branches.map((b) => b.ok)).toEqual([true, true, true]);

    const raws = await Promise.all(targets.map((t) => stored(t, 'fan/object.bin')));
    const payloads = raws.map((raw) => raw.subarray(ONE_RECIPIENT_HEADER_BYTES));
    expect(payloads[1]!.equals(payloads[0]!)).toBe(true);
    expect(payloads[2]!.equals(payloads[0]!)).toBe(true);
    expect(raws[1]!.subarray(0, ONE_RECIPIENT_HEADER_BYTES).equals(raws[0]!.subarray(0, ONE_RECIPIENT_HEADER_BYTES))).toBe(false);

    for (const target of targets) {
      const got = await target.store.get('fan/object.bin');
      expect((await digestStream(got.body)).sha256).toBe(sent.sha256);
      expect(got.info.metadata['owner']).toBe('fan');
      expect(got.info.contentType).toBe('application/x-test');
    }
    // Another location's key cannot open this location's copy.
    const foreign = new EncryptedStore({ inner: targets[0]!.store.inner, keys: () => ({ location: 'a2', active: secondKey, all: [secondKey] }) });
    await expect(foreign.get('fan/object.bin')).rejects.toMatchObject({ code: 'decryption_failed' });
  });

  it('keeps going when one destination fails, and says which', async () => {
    const targets = [await location('b1'), await location('b2', undefined, broken), await location('b3')];
    const body = bufferBody(Buffer.alloc(2 * MiB, 7));
    const result = await fanOutWrite(body.stream, { key: 'fan/partial.bin', targets, size: body.bytes.length });
    expect(result.sha256).toBe(body.digest.sha256);
    expect(result.branches.map((b) => [b.location, b.ok])).toEqual([
      ['b1', true],
      ['b2', false],
      ['b3', true],
    ]);
    await expect(targets[1]!.store.inner.head('fan/partial.bin')).rejects.toMatchObject({ code: 'not_found' });
  });

  it("fails a branch whose put reports another size or CRC-32 than the payload sent (no HEAD needed)", async () => {
    const targets = [
      await location('m1'),
      await location('m2', undefined, misreporting((r) => ({ ...r, size: r.size - 1 }))),
      await location('m3', undefined, misreporting((r) => ({ ...r, checksums: { ...r.checksums, crc32: '00000000' } }))),
    ];
    const body = bufferBody(Buffer.alloc(MiB + 5, 3));
    const result = await fanOutWrite(body.stream, { key: 'fan/misreported.bin', targets, size: body.bytes.length });
    expect(result.branches.map((b) => [b.location, b.ok])).toEqual([
      ['m1', true],
      ['m2', false],
      ['m3', false],
    ]);
    for (const branch of result.branches.slice(1)) {
      expect(branch.ok).toBe(false);
      if (!branch.ok) expect(branch.error).toMatchObject({ code: 'checksum_mismatch' });
    }
    const good = result.branches[0]!;
    expect(good.ok && good.stored.size).toBe((await targets[0]!.store.inner.head('fan/misreported.bin')).size);
  });

  it('fails every branch, and stores nothing, when the source breaks or lies about its size', async () => {
    const targets = [await location('c1'), await location('c2')];
    let chunks = 0;
    const failing = new Readable({
      read() {
        chunks += 1;
        if (chunks > 3) this.destroy(new Error('source broke'));
        else this.push(Buffer.alloc(MiB, 1));
      },
    });
    const result = await fanOutWrite(failing, { key: 'fan/broken-source.bin', targets });
    expect(result.branches.every((b) => !b.ok)).toBe(true);
    expect(String(result.sourceError)).toContain('source broke');
    for (const t of targets) await expect(t.store.inner.head('fan/broken-source.bin')).rejects.toMatchObject({ code: 'not_found' });

    const short = await fanOutWrite(Readable.from([Buffer.from('eleven byte')]), { key: 'fan/short.bin', targets, size: 100 });
    expect(short.branches.every((b) => !b.ok)).toBe(true);
    expect(isMovingDataError(short.sourceError) && short.sourceError.code).toBe('invalid_argument');
    for (const t of targets) await expect(t.store.inner.head('fan/short.bin')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('lets the slowest destination set the pace without piling bytes up in memory', { timeout: 300_000 }, async () => {
    const targets = [await location('d1'), await location('d2', undefined, (inner) => slow(inner, 1)), await location('d3')];
    const body = generatedBody(160 * MiB);
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const timer = setInterval(() => {
      gc?.();
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 50);
    const result = await fanOutWrite(body.stream, { key: 'fan/large.bin', targets });
    clearInterval(timer);
    expect(result.branches.every((b) => b.ok)).toBe(true);
    expect(result.sha256).toBe((await body.digest).sha256);
    expect(peak - baseline, `RSS grew ${Math.round((peak - baseline) / MiB)} MiB`).toBeLessThan(64 * MiB);
  });

  it('seals for a Fernet location from the same pass', async () => {
    const targets = [await location('e1'), await location('e2', fernetKey(generateFernetKey()))];
    const body = bufferBody('to age and to fernet');
    const result = await fanOutWrite(body.stream, { key: 'fan/mixed.txt', targets, size: body.bytes.length });
    expect(result.branches.every((b) => b.ok)).toBe(true);
    expect((await stored(targets[1]!, 'fan/mixed.txt')).toString('ascii')).toMatch(/^gAAAAA/);
    for (const t of targets) expect((await digestStream((await t.store.get('fan/mixed.txt')).body)).sha256).toBe(createHash('sha256').update('to age and to fernet').digest('hex'));
  });
});

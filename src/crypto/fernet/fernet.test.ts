/**
 * Fernet against the published fernet-spec vectors (copied into test/fixtures/fernet), round
 * trips through the one-shot and the stream functions, tampering, key parsing, and the size
 * limit: an over-limit stream is refused with `too_large` after reading little more than the
 * limit, never buffered whole.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isMovingDataError, type ErrorCode } from '../../errors.ts';
import {
  FERNET_MAX_BYTES,
  FERNET_MAX_CLOCK_SKEW_SECONDS,
  FernetKey,
  decryptTokenStream,
  encryptStreamToToken,
  fernetDecrypt,
  fernetEncrypt,
  fernetTokenLength,
  formatFernetKey,
  generateFernetKey,
  parseFernetKey,
} from './fernet.ts';

const MiB = 1024 * 1024;

interface GenerateVector {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface VerifyVector {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface InvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}

async function fixture<T>(name: string): Promise<T[]> {
  const text = await readFile(new URL(`../../../test/fixtures/fernet/${name}.json`, import.meta.url), 'utf8');
  return JSON.parse(text) as T[];
}

const generateVectors = await fixture<GenerateVector>('generate');
const verifyVectors = await fixture<VerifyVector>('verify');
const invalidVectors = await fixture<InvalidVector>('invalid');

/** Resolves to the error's code, or fails the test if nothing was thrown. */
async function codeOf(work: () => unknown): Promise<ErrorCode> {
  try {
    await work();
  } catch (err) {
    if (isMovingDataError(err)) return err.code;
    throw err;
  }
  throw new Error('expected an error, got none');
}

/** Splits text or bytes into chunks of `size` (a stream as a socket would deliver it). */
function* chunksOf(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

/**
 * A source of `total` bytes made on demand in 1 MiB chunks (`start`, then `fill` bytes),
 * counting what was pulled and whether it was closed early (the consumer gave up on it).
 */
function countingSource(
  total: number,
  start: string,
  fill: string,
): { stream: Readable; pulled: () => number; closed: () => boolean } {
  let pulled = 0;
  let closed = false;
  const chunk = Buffer.alloc(MiB, fill);
  chunk.write(start, 'latin1');
  const stream = new Readable({
    read() {
      if (pulled >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(MiB, total - pulled);
      pulled += size;
      this.push(size === MiB ? chunk : chunk.subarray(0, size));
    },
  });
  stream.once('close', () => {
    closed = true;
  });
  return { stream, pulled: () => pulled, closed: () => closed };
}

/** Peak RSS growth while `work` runs (sampled every 10 ms). */
async function peakRssGrowth(work: () => Promise<unknown>): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage.rss()) - baseline;
}

describe('fernet-spec vectors', () => {
  for (const v of generateVectors) {
    it(`generate: ${JSON.stringify(v.src)} at ${v.now} gives the exact token`, async () => {
      const key = parseFernetKey(v.secret);
      const options = { now: new Date(v.now), iv: Buffer.from(v.iv) };
      expect(fernetEncrypt(key, Buffer.from(v.src), options)).toBe(v.token);
      // The stream path writes the same bytes, whatever the chunking.
      const streamed = await encryptStreamToToken(key, chunksOf(Buffer.from(v.src), 1), options);
      expect(streamed).toBe(v.token);
    });
  }

  for (const v of verifyVectors) {
    it(`verify: decrypts to ${JSON.stringify(v.src)} at ${v.now} with ttl ${v.ttl_sec}`, async () => {
      const key = parseFernetKey(v.secret);
      const options = { now: new Date(v.now), ttlSeconds: v.ttl_sec };
      expect(fernetDecrypt(key, v.token, options).toString('utf8')).toBe(v.src);
      for (const size of [1, 3, 7, 1000]) {
        const plaintext = await decryptTokenStream(key, chunksOf(Buffer.from(v.token), size), options);
        expect(plaintext.toString('utf8'), `chunks of ${size}`).toBe(v.src);
      }
    });
  }

  for (const v of invalidVectors) {
    it(`invalid: ${v.desc} is refused with decryption_failed`, async () => {
      const key = parseFernetKey(v.secret);
      const options = { now: new Date(v.now), ttlSeconds: v.ttl_sec };
      expect(await codeOf(() => fernetDecrypt(key, v.token, options))).toBe('decryption_failed');
      for (const size of [1, 5, 1000]) {
        const code = await codeOf(() => decryptTokenStream(key, chunksOf(Buffer.from(v.token), size), options));
        expect(code, `chunks of ${size}`).toBe('decryption_failed');
      }
    });
  }
});

describe('round trips', () => {
  const key = generateFernetKey();
  const sizes = [0, 1, 15, 16, 17, 31, 32, 33, 1000, 65_536 + 5, 3 * MiB + 7];

  for (const size of sizes) {
    it(`${size} random bytes: one-shot and streamed, any chunking`, async () => {
      const plaintext = randomBytes(size);
      const token = fernetEncrypt(key, plaintext);
      expect(token.length).toBe(fernetTokenLength(size));
      expect(token).toMatch(/^[A-Za-z0-9_-]+=*$/);
      expect(fernetDecrypt(key, token).equals(plaintext)).toBe(true);
      expect(fernetDecrypt(key, Buffer.from(token)).equals(plaintext)).toBe(true);

      const streamedToken = await encryptStreamToToken(key, Readable.from(chunksOf(plaintext, 4099)));
      const streamed = await decryptTokenStream(key, Readable.from(chunksOf(Buffer.from(streamedToken), 65_537)));
      expect(streamed.equals(plaintext)).toBe(true);
    });
  }

  it('the stream encryption of chunks equals the one-shot encryption with the same time and IV', async () => {
    const plaintext = randomBytes(100_003);
    const options = { now: new Date('2024-02-29T12:00:00Z'), iv: randomBytes(16) };
    const once = fernetEncrypt(key, plaintext, options);
    for (const size of [1, 15, 16, 17, 8191]) {
      expect(await encryptStreamToToken(key, chunksOf(plaintext, size), options), `chunks of ${size}`).toBe(once);
    }
  });

  it('accepts string chunks (UTF-8) and a token with a trailing newline, as a saved file has', async () => {
    const token = await encryptStreamToToken(key, ['héllo ', 'wörld']);
    expect(fernetDecrypt(key, `${token}\n`).toString('utf8')).toBe('héllo wörld');
    expect((await decryptTokenStream(key, [token, '\r\n'])).toString('utf8')).toBe('héllo wörld');
  });

  it('a fresh IV every time: the same plaintext never gives the same token', () => {
    const plaintext = Buffer.from('same');
    expect(fernetEncrypt(key, plaintext)).not.toBe(fernetEncrypt(key, plaintext));
  });

  it('writes the current time, as seconds, big-endian after the version byte', () => {
    const before = Math.floor(Date.now() / 1000);
    const bytes = Buffer.from(fernetEncrypt(key, Buffer.from('x')), 'base64url');
    expect(bytes[0]).toBe(0x80);
    const stamp = Number(bytes.readBigUInt64BE(1));
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(stamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });
});

describe('tampering and the wrong key', () => {
  const key = generateFernetKey();
  const plaintext = randomBytes(100);
  const token = fernetEncrypt(key, plaintext);
  const bytes = Buffer.from(token, 'base64url');

  function reencode(modified: Buffer): string {
    const text = modified.toString('base64url');
    return text + '='.repeat((4 - (text.length % 4)) % 4);
  }

  it('any flipped bit, in any field, is refused', () => {
    // version, timestamp, IV, first/last ciphertext byte, HMAC
    for (const at of [0, 1, 8, 9, 24, 25, bytes.length - 33, bytes.length - 32, bytes.length - 1]) {
      const modified = Buffer.from(bytes);
      modified[at] = (modified[at] ?? 0) ^ 0x01;
      let code: ErrorCode | undefined;
      try {
        fernetDecrypt(key, reencode(modified));
      } catch (err) {
        if (isMovingDataError(err)) code = err.code;
      }
      expect(code, `byte ${at}`).toBe('decryption_failed');
    }
  });

  it('truncated, extended, empty and non-base64url tokens are refused', async () => {
    const cases = [
      reencode(bytes.subarray(0, bytes.length - 1)),
      reencode(bytes.subarray(0, bytes.length - 16)),
      reencode(bytes.subarray(0, 57)),
      reencode(Buffer.concat([bytes, Buffer.alloc(16)])),
      '',
      'gA',
      `${token}=`,
      `${token.slice(0, 20)} ${token.slice(20)}`,
      token.replaceAll('-', '+').replaceAll('_', '/'),
      `${token.slice(0, 10)}é${token.slice(11)}`,
    ];
    for (const bad of cases) {
      expect(await codeOf(() => fernetDecrypt(key, bad)), bad.slice(0, 40)).toBe('decryption_failed');
      expect(await codeOf(() => decryptTokenStream(key, [bad])), bad.slice(0, 40)).toBe('decryption_failed');
    }
  });

  it('another key is refused, with a message that names the cause and no plaintext', async () => {
    const failure = await Promise.resolve()
      .then(() => fernetDecrypt(generateFernetKey(), token))
      .catch((err: unknown) => err);
    expect(isMovingDataError(failure) && failure.code).toBe('decryption_failed');
    expect(isMovingDataError(failure) && failure.details).toEqual({ format: 'fernet', reason: 'signature' });
  });

  it('the version byte is checked before anything else', async () => {
    const failure = await decryptTokenStream(key, [reencode(Buffer.from([0x81])).slice(0, 2)]).catch((err: unknown) => err);
    expect(isMovingDataError(failure) && failure.details?.['reason']).toBe('version');
  });
});

describe('time-to-live', () => {
  const key = generateFernetKey();
  const written = new Date('2030-01-01T00:00:00Z');
  const token = fernetEncrypt(key, Buffer.from('t'), { now: written });
  const at = (seconds: number): Date => new Date(written.getTime() + seconds * 1000);

  it('a token is valid up to and including its TTL, and expired one second later', async () => {
    expect(fernetDecrypt(key, token, { now: at(60), ttlSeconds: 60 }).toString()).toBe('t');
    expect(await codeOf(() => fernetDecrypt(key, token, { now: at(61), ttlSeconds: 60 }))).toBe('decryption_failed');
  });

  it('with a TTL, a token up to the allowed clock skew ahead is valid, and refused beyond it', async () => {
    const skew = FERNET_MAX_CLOCK_SKEW_SECONDS;
    expect(fernetDecrypt(key, token, { now: at(-skew), ttlSeconds: 60 }).toString()).toBe('t');
    expect(await codeOf(() => fernetDecrypt(key, token, { now: at(-skew - 1), ttlSeconds: 60 }))).toBe(
      'decryption_failed',
    );
  });

  it('without a TTL, neither age nor a future date matters (as in Python): stored objects do not expire', () => {
    expect(fernetDecrypt(key, token, { now: at(10 * 365 * 86_400) }).toString()).toBe('t');
    expect(fernetDecrypt(key, token, { now: at(-86_400) }).toString()).toBe('t');
  });

  it('refuses a negative or fractional TTL, and an invalid date, as invalid arguments', async () => {
    expect(await codeOf(() => fernetDecrypt(key, token, { ttlSeconds: -1 }))).toBe('invalid_argument');
    expect(await codeOf(() => fernetDecrypt(key, token, { ttlSeconds: 1.5 }))).toBe('invalid_argument');
    expect(await codeOf(() => fernetDecrypt(key, token, { now: new Date('nope'), ttlSeconds: 5 }))).toBe(
      'invalid_argument',
    );
    expect(await codeOf(() => fernetEncrypt(key, Buffer.from('x'), { now: new Date(-1000) }))).toBe('invalid_argument');
  });
});

describe('keys', () => {
  const text = generateVectors[0]?.secret ?? '';

  it('parses the text Fernet.generate_key() writes and formats it back identically', () => {
    expect(formatFernetKey(parseFernetKey(text))).toBe(text);
    const fresh = formatFernetKey(generateFernetKey());
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(formatFernetKey(parseFernetKey(fresh))).toBe(fresh);
  });

  it('also accepts it unpadded, with surrounding whitespace, or in the standard base64 alphabet', () => {
    const raw = Buffer.from(text, 'base64url');
    for (const variant of [text.replace(/=$/, ''), ` ${text}\n`, raw.toString('base64')]) {
      expect(formatFernetKey(parseFernetKey(variant)), JSON.stringify(variant)).toBe(text);
    }
  });

  it('splits into the signing key (first 16 bytes) and the encryption key (last 16)', () => {
    const raw = Buffer.from(text, 'base64url');
    const key = parseFernetKey(text);
    expect(key.signingKey.equals(raw.subarray(0, 16))).toBe(true);
    expect(key.encryptionKey.equals(raw.subarray(16))).toBe(true);
  });

  it('refuses anything that is not 32 bytes of base64url, without echoing it', () => {
    const raw = Buffer.from(text, 'base64url');
    const bad = [
      '',
      'not a key',
      raw.subarray(0, 31).toString('base64url'),
      Buffer.concat([raw, Buffer.from([1])]).toString('base64url'),
      `${text}=`,
      `${text.slice(0, 10)}!${text.slice(11)}`,
      `${text.slice(0, 10)} ${text.slice(10)}`,
      raw.toString('hex'),
    ];
    for (const candidate of bad) {
      let failure: unknown;
      try {
        parseFernetKey(candidate);
      } catch (err) {
        failure = err;
      }
      expect(isMovingDataError(failure) && failure.code, JSON.stringify(candidate)).toBe('invalid_argument');
      expect(String(failure)).toMatch(/32 bytes of url-safe base64/);
      if (candidate.length > 8) expect(String(failure)).not.toContain(candidate.trim().slice(0, 12));
    }
    expect(() => new FernetKey(Buffer.alloc(16))).toThrow(/32 bytes/);
  });

  it('never shows its bytes when logged or serialized', () => {
    const key = parseFernetKey(text);
    const raw = Buffer.from(text, 'base64url');
    for (const shown of [String(key), JSON.stringify({ key }), inspect(key, { showHidden: true, depth: 5 })]) {
      expect(shown).not.toContain(text.slice(0, 8));
      expect(shown).not.toContain(raw.subarray(0, 4).toString('hex').slice(0, 2) + ' ' + raw.subarray(1, 2).toString('hex'));
    }
    expect(JSON.stringify({ key })).toBe('{"key":"[FernetKey]"}');
  });

  it('refuses an IV that is not 16 bytes', async () => {
    expect(await codeOf(() => fernetEncrypt(generateFernetKey(), Buffer.from('x'), { iv: Buffer.alloc(8) }))).toBe(
      'invalid_argument',
    );
  });
});

describe('size limit (Fernet cannot stream: it authenticates the whole token at its end)', () => {
  const key = generateFernetKey();

  it('documents 64 MiB as the default', () => {
    expect(FERNET_MAX_BYTES).toBe(64 * MiB);
  });

  it('accepts exactly maxBytes, and refuses one byte more with too_large', async () => {
    const limit = 1000;
    const token = await encryptStreamToToken(key, [randomBytes(limit)], { maxBytes: limit });
    expect((await decryptTokenStream(key, [token], { maxBytes: limit })).length).toBe(limit);
    expect(await codeOf(() => encryptStreamToToken(key, [randomBytes(limit + 1)], { maxBytes: limit }))).toBe('too_large');
    const bigger = fernetEncrypt(key, randomBytes(limit + 16));
    expect(await codeOf(() => decryptTokenStream(key, [bigger], { maxBytes: limit }))).toBe('too_large');
  });

  it('encrypt: an 8 GiB source over a 4 MiB limit is refused after reading ~4 MiB, and closed', async () => {
    const source = countingSource(8 * 1024 * MiB, '', 'a');
    const failure = await encryptStreamToToken(key, source.stream, { maxBytes: 4 * MiB }).catch((err: unknown) => err);
    expect(isMovingDataError(failure) && failure.code).toBe('too_large');
    expect(String(failure)).toMatch(/limited to 4 MiB .* age format/);
    expect(source.pulled()).toBeLessThanOrEqual(4 * MiB + 2 * MiB); // the limit, one chunk, one read-ahead
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.closed()).toBe(true);
  });

  it('decrypt: an 8 GiB token stream over a 4 MiB limit is refused after reading ~5.4 MiB, and closed', async () => {
    // A valid version byte, then 'A's (zero bytes): a well-formed start that never ends, so only
    // the limit can stop it.
    const source = countingSource(8 * 1024 * MiB, 'gA', 'A');
    const failure = await decryptTokenStream(key, source.stream, { maxBytes: 4 * MiB }).catch((err: unknown) => err);
    expect(isMovingDataError(failure) && failure.code).toBe('too_large');
    expect(source.pulled()).toBeLessThanOrEqual(fernetTokenLength(4 * MiB) + 2 * MiB);
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.closed()).toBe(true);
  });

  it('with the default limit, a 1 GiB source is refused while memory grows far less than 1 GiB', async () => {
    const encryptSource = countingSource(1024 * MiB, '', 'a');
    const encryptGrowth = await peakRssGrowth(async () => {
      expect(await codeOf(() => encryptStreamToToken(key, encryptSource.stream))).toBe('too_large');
    });
    expect(encryptSource.pulled()).toBeLessThanOrEqual(FERNET_MAX_BYTES + 2 * MiB);

    const decryptSource = countingSource(1024 * MiB, 'gA', 'A');
    const decryptGrowth = await peakRssGrowth(async () => {
      expect(await codeOf(() => decryptTokenStream(key, decryptSource.stream))).toBe('too_large');
    });
    expect(decryptSource.pulled()).toBeLessThanOrEqual(fernetTokenLength(FERNET_MAX_BYTES) + 2 * MiB);

    // What is held is at most the limit's worth (token text, or decoded plaintext), plus slack.
    for (const [what, growth] of [
      ['encrypt', encryptGrowth],
      ['decrypt', decryptGrowth],
    ] as const) {
      expect(growth, `${what}: RSS grew ${Math.round(growth / MiB)} MiB`).toBeLessThan(256 * MiB);
    }
  });

  it('a within-limit object of the default size round-trips through the stream functions', async () => {
    const plaintext = randomBytes(FERNET_MAX_BYTES - 1);
    const token = await encryptStreamToToken(key, Readable.from(chunksOf(plaintext, MiB)));
    expect(token.length).toBe(fernetTokenLength(plaintext.length));
    const back = await decryptTokenStream(key, Readable.from(chunksOf(Buffer.from(token, 'latin1'), MiB)));
    expect(back.equals(plaintext)).toBe(true);
  });
});

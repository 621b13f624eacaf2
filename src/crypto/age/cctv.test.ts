/**
 * The C2SP CCTV age test vectors (npm `cctv-age`), every one that X25519 age implies: each file
 * is decrypted through our streams and must succeed with the expected payload hash, or fail with
 * the expected class, having released exactly the plaintext the vector allows.
 *
 * Skipped, by category (each skipped vector is listed as a skipped test with its reason):
 * - scrypt: passphrase recipients; MovingData locations use X25519 identities only. The one
 *   scrypt vector that also carries an X25519 identity (scrypt_and_x25519) runs: the rule that an
 *   scrypt stanza must be alone is enforced for every header.
 * - hybrid (mlkem768x25519, `AGE-SECRET-KEY-PQ-1`): post-quantum hybrid recipients are not
 *   implemented. hybrid_x25519_arg, which also carries an X25519 identity, runs with it.
 * - plugins: the package has no plugin vectors.
 * Armored and zlib-compressed vectors all run (armor decoding is implemented).
 */
import { createHash } from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inflateSync } from 'node:zlib';
import * as cctv from 'cctv-age';
import { describe, expect, it } from 'vitest';
import { createArmorDecodeStream, createArmorEncodeStream } from './armor.ts';
import { AgeDecryptionError } from './errors.ts';
import { parseHeader, serializeHeader } from './header.ts';
import { createDecryptStream, parseIdentity, type X25519Identity } from './index.ts';
import { NONCE_SIZE, PayloadSealer, payloadKey } from './stream.ts';

type Expect = 'success' | 'no match' | 'HMAC failure' | 'header failure' | 'payload failure' | 'armor failure';

interface Vector {
  readonly name: string;
  readonly expect: Expect;
  readonly payload: string | undefined;
  readonly fileKey: Buffer | undefined;
  readonly identities: readonly string[];
  readonly passphrases: readonly string[];
  readonly armored: boolean;
  readonly file: Buffer;
}

const KNOWN_KEYS = new Set(['expect', 'payload', 'file key', 'identity', 'passphrase', 'armored', 'compressed', 'comment']);

function parseVector(name: string, bytes: Uint8Array): Vector {
  const all = Buffer.from(bytes);
  const split = all.indexOf('\n\n');
  const fields: [string, string][] = all
    .toString('utf8', 0, split)
    .split('\n')
    .map((line) => {
      const colon = line.indexOf(': ');
      return [line.slice(0, colon), line.slice(colon + 2)];
    });
  const unknown = fields.filter(([key]) => !KNOWN_KEYS.has(key));
  if (unknown.length > 0) throw new Error(`${name}: unknown keys ${unknown.map(([k]) => k).join(', ')} (the README says to ignore such files; check them)`);
  const values = (key: string): string[] => fields.filter(([k]) => k === key).map(([, v]) => v);
  const one = (key: string): string | undefined => values(key)[0];
  const body = all.subarray(split + 2);
  const compressed = one('compressed');
  if (compressed !== undefined && compressed !== 'zlib') throw new Error(`${name}: unknown compression ${compressed}`);
  const fileKey = one('file key');
  return {
    name,
    expect: one('expect') as Expect,
    payload: one('payload'),
    fileKey: fileKey === undefined ? undefined : Buffer.from(fileKey, 'hex'),
    identities: values('identity'),
    passphrases: values('passphrase'),
    armored: one('armored') === 'yes',
    file: compressed === 'zlib' ? inflateSync(body) : body,
  };
}

const X25519_PREFIX = 'AGE-SECRET-KEY-1';
const SKIPS = {
  scrypt: 'scrypt passphrase recipients are not implemented (locations use X25519)',
  hybrid: 'mlkem768x25519 hybrid post-quantum recipients are not implemented',
};

function skipReason(vector: Vector): string | undefined {
  if (vector.identities.some((id) => id.startsWith(X25519_PREFIX))) return undefined;
  if (vector.passphrases.length > 0) return SKIPS.scrypt;
  if (vector.identities.some((id) => id.startsWith('AGE-SECRET-KEY-PQ-1'))) return SKIPS.hybrid;
  return vector.expect === 'header failure' || vector.expect === 'armor failure' ? undefined : 'no identity of a supported type';
}

/** Our failure reasons, folded into the vectors' classes (the README allows aliasing). */
function failureClass(err: unknown): string {
  if (!(err instanceof AgeDecryptionError)) return `unexpected error: ${String(err)}`;
  expect(err.code).toBe('decryption_failed');
  switch (err.reason) {
    case 'malformed_armor':
      return 'armor failure';
    case 'malformed_header':
      return 'header failure';
    case 'no_identity_matched':
      return 'no match';
    case 'header_mac_mismatch':
      return 'HMAC failure';
    case 'truncated':
      // The nonce is read with the header in the reference implementation.
      return err.details?.['part'] === 'payload' ? 'payload failure' : 'header failure';
    case 'chunk_authentication_failed':
    case 'trailing_data':
    case 'malformed_payload':
      return 'payload failure';
  }
}

async function decrypt(vector: Vector, identities: readonly X25519Identity[]): Promise<{ released: Buffer; error: unknown }> {
  const released: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      released.push(chunk);
      callback();
    },
  });
  const stages: Transform[] = vector.armored ? [createArmorDecodeStream()] : [];
  let error: unknown;
  try {
    // The file arrives in odd-sized pieces, as from a network, to exercise chunk assembly.
    await pipeline([Readable.from(pieces(vector.file, 7919)), ...stages, createDecryptStream(identities), sink]);
  } catch (err) {
    error = err;
  }
  return { released: Buffer.concat(released), error };
}

function* pieces(bytes: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const vectors = Object.entries(cctv as Record<string, Uint8Array>)
  .map(([name, bytes]) => parseVector(name, bytes))
  .sort((a, b) => a.name.localeCompare(b.name));

describe('CCTV age vectors', () => {
  it('the package holds the vectors we expect to run', () => {
    const run = vectors.filter((vector) => skipReason(vector) === undefined);
    expect(vectors.length).toBeGreaterThanOrEqual(140);
    expect(run.length).toBeGreaterThanOrEqual(100);
    // Every category we claim to cover is present.
    for (const prefix of ['armor_', 'header_', 'hmac_', 'stanza_', 'stream_', 'x25519', 'version_']) {
      expect(run.some((vector) => vector.name.startsWith(prefix)), prefix).toBe(true);
    }
    // Nothing is skipped for a reason other than the two documented ones.
    const skipped = vectors.map(skipReason).filter((reason) => reason !== undefined);
    expect(new Set(skipped)).toEqual(new Set(Object.values(SKIPS)));
  });

  for (const vector of vectors) {
    const reason = skipReason(vector);
    if (reason !== undefined) {
      it.skip(`${vector.name} (skipped: ${reason})`, () => {});
      continue;
    }
    it(`${vector.name}: ${vector.expect}`, async () => {
      const identities = vector.identities.filter((id) => id.startsWith(X25519_PREFIX)).map((id) => parseIdentity(id));
      const { released, error } = await decrypt(vector, identities.length > 0 ? identities : [parseIdentity(SPARE_IDENTITY)]);
      if (vector.expect === 'success') {
        expect(error).toBeUndefined();
      } else {
        expect(error, 'decryption should fail').toBeDefined();
        expect(failureClass(error)).toBe(vector.expect);
      }
      if (vector.expect === 'success' || vector.expect === 'payload failure') {
        expect(sha256(released)).toBe(vector.payload);
      } else {
        expect(released.length).toBe(0);
      }
    });
  }
});

describe('CCTV round trips', () => {
  const binary = vectors.filter((vector) => skipReason(vector) === undefined && !vector.armored && vector.fileKey !== undefined);

  it('every header that parses re-serialises to the same bytes (same MAC when the MAC was valid)', () => {
    let checked = 0;
    for (const vector of binary.filter((v) => v.expect !== 'header failure')) {
      const { header } = parseHeader(vector.file);
      const again = serializeHeader(vector.fileKey!, header.stanzas);
      if (vector.expect === 'HMAC failure') {
        expect(again.subarray(0, header.macInputLength), vector.name).toEqual(header.bytes.subarray(0, header.macInputLength));
      } else {
        expect(again, vector.name).toEqual(header.bytes);
      }
      checked += 1;
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('re-encrypting each successful payload with its file key and nonce gives the same bytes', async () => {
    let checked = 0;
    for (const vector of binary.filter((v) => v.expect === 'success')) {
      const { released } = await decrypt(vector, vector.identities.filter((id) => id.startsWith(X25519_PREFIX)).map((id) => parseIdentity(id)));
      const { rest } = parseHeader(vector.file);
      const nonce = rest.subarray(0, NONCE_SIZE);
      const sealer = new PayloadSealer(payloadKey(vector.fileKey!, nonce));
      const out: Buffer[] = [nonce];
      for (const piece of pieces(released, 10_007)) sealer.write(piece, (bytes) => out.push(bytes));
      sealer.end((bytes) => out.push(bytes));
      expect(sha256(Buffer.concat(out)), vector.name).toBe(sha256(rest));
      checked += 1;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('armored vectors in canonical form re-armor to the same text', async () => {
    const canonical = vectors.filter(
      (v) => v.armored && v.expect === 'success' && skipReason(v) === undefined && !v.file.includes('\r') && /^-/.test(v.file.toString('latin1')) && v.file.toString('latin1').endsWith('-----\n'),
    );
    expect(canonical.length).toBeGreaterThanOrEqual(2);
    for (const vector of canonical) {
      const binaryFile: Buffer[] = [];
      await pipeline(Readable.from([vector.file]), createArmorDecodeStream(), async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) binaryFile.push(chunk);
      });
      const text: Buffer[] = [];
      await pipeline(Readable.from(pieces(Buffer.concat(binaryFile), 100)), createArmorEncodeStream(), async (source: AsyncIterable<Buffer | string>) => {
        for await (const chunk of source) text.push(Buffer.from(chunk));
      });
      expect(Buffer.concat(text).toString('latin1'), vector.name).toBe(vector.file.toString('latin1'));
    }
  });
});

/** For vectors that must fail before any identity is tried (armor, empty file). */
const SPARE_IDENTITY = 'AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX';

import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MovingDataError } from '../../errors.ts';
import { AgeDecryptionError, type AgeFailureReason } from './errors.ts';
import {
  CHUNK_SIZE,
  ENCRYPTED_CHUNK_SIZE,
  NONCE_SIZE,
  TAG_SIZE,
  chunkCount,
  createDecryptStream,
  createPayloadDecryptor,
  createPayloadEncryptor,
  encodeHeader,
  generateIdentity,
  newFileKey,
  parseHeader,
  payloadSize,
  plaintextSize,
} from './index.ts';
import { decrypt, encrypt, patternBytes, run, through } from './test-support.ts';

const identity = generateIdentity();

interface Split {
  readonly header: Buffer;
  readonly nonce: Buffer;
  readonly chunks: Buffer[];
}

function split(file: Buffer): Split {
  const { headerLength } = parseHeader(file);
  const chunks: Buffer[] = [];
  for (let offset = headerLength + NONCE_SIZE; offset < file.length; offset += ENCRYPTED_CHUNK_SIZE) {
    chunks.push(file.subarray(offset, offset + ENCRYPTED_CHUNK_SIZE));
  }
  return { header: file.subarray(0, headerLength), nonce: file.subarray(headerLength, headerLength + NONCE_SIZE), chunks };
}

function join({ header, nonce, chunks }: Split): Buffer {
  return Buffer.concat([header, nonce, ...chunks]);
}

async function failure(file: Buffer, identities = [identity]): Promise<{ reason: string; error: AgeDecryptionError | undefined; output: Buffer; emitted: number }> {
  const { output, emitted, error } = await run(file, [createDecryptStream(identities)], 10_000);
  if (error === undefined) return { reason: 'no error', error: undefined, output, emitted };
  if (!(error instanceof AgeDecryptionError)) return { reason: `other: ${error instanceof Error ? error.message : typeof error}`, error: undefined, output, emitted };
  expect(error.code).toBe('decryption_failed');
  expect(error.retryable).toBe(false);
  return { reason: error.reason, error, output, emitted };
}

describe('age STREAM payload', () => {
  const sizes = [0, 1, 16, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 1, 5 * CHUNK_SIZE + 7];

  it('round-trips every size around chunk boundaries, whatever the piece sizes of the input', async () => {
    for (const size of sizes) {
      const plaintext = patternBytes(size, size + 1);
      for (const pieceSize of size <= 2 * CHUNK_SIZE ? [1009, CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, 1 << 20] : [7919, CHUNK_SIZE, 1 << 20]) {
        const file = await encrypt(plaintext, [identity.recipient], pieceSize);
        const { headerLength } = parseHeader(file);
        expect(file.length - headerLength, `payload of ${size}`).toBe(payloadSize(size));
        expect(split(file).chunks.length).toBe(chunkCount(size));
        expect(await decrypt(file, [identity], pieceSize), `size ${size}, pieces ${pieceSize}`).toEqual(plaintext);
      }
    }
    // Byte by byte, for a small file.
    const small = patternBytes(300);
    expect(await decrypt(await encrypt(small, [identity.recipient], 1), [identity], 1)).toEqual(small);
  });

  it('encrypts an empty plaintext as one empty final chunk', async () => {
    const file = await encrypt(Buffer.alloc(0), [identity.recipient]);
    const { chunks } = split(file);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.length).toBe(TAG_SIZE);
    expect(await decrypt(file, [identity])).toEqual(Buffer.alloc(0));
  });

  it('converts between plaintext and payload sizes, and rejects impossible payload sizes', () => {
    for (const size of [...sizes, 10 * CHUNK_SIZE, 1024 ** 4 + 3]) {
      expect(plaintextSize(payloadSize(size))).toBe(size);
    }
    expect(payloadSize(0)).toBe(NONCE_SIZE + TAG_SIZE);
    expect(payloadSize(CHUNK_SIZE)).toBe(NONCE_SIZE + ENCRYPTED_CHUNK_SIZE);
    expect(payloadSize(CHUNK_SIZE + 1)).toBe(NONCE_SIZE + ENCRYPTED_CHUNK_SIZE + 1 + TAG_SIZE);
    const impossible = [0, 15, NONCE_SIZE + TAG_SIZE - 1, NONCE_SIZE + ENCRYPTED_CHUNK_SIZE + TAG_SIZE, NONCE_SIZE + ENCRYPTED_CHUNK_SIZE + 5, -1, 1.5, Number.NaN];
    for (const size of impossible) {
      expect(() => plaintextSize(size), String(size)).toThrow(MovingDataError);
      try {
        plaintextSize(size);
      } catch (err) {
        expect((err as MovingDataError).code).toBe('invalid_argument');
      }
    }
    expect(() => payloadSize(-1)).toThrow(MovingDataError);
  });

  it('detects a changed bit in any chunk, naming the chunk, and releases nothing from it', async () => {
    const plaintext = patternBytes(4 * CHUNK_SIZE + 100);
    const file = await encrypt(plaintext, [identity.recipient]);
    const parts = split(file);
    for (const index of [0, 1, 4]) {
      for (const position of [0, 1000, -1]) {
        const chunks = parts.chunks.map((chunk) => Buffer.from(chunk));
        const chunk = chunks[index]!;
        chunk[position < 0 ? chunk.length + position : Math.min(position, chunk.length - TAG_SIZE - 1)]! ^= 0x01;
        const { reason, error, output } = await failure(join({ ...parts, chunks }));
        expect(reason).toBe('chunk_authentication_failed');
        expect(error!.message).toContain(`chunk ${index} failed authentication`);
        expect(error!.details?.['chunk']).toBe(index);
        // Exactly the chunks before it were released.
        expect(output).toEqual(plaintext.subarray(0, index * CHUNK_SIZE));
      }
    }
  });

  it('emits nothing when the header or the first chunk is wrong, so the caller can still answer with an error', async () => {
    const file = await encrypt(patternBytes(3 * CHUNK_SIZE), [identity.recipient]);
    const firstChunk = Buffer.from(file);
    firstChunk[parseHeader(file).headerLength + NONCE_SIZE + 5]! ^= 0x80;
    // The MAC's first base64 character carries 6 whole bits: changing it keeps the encoding canonical.
    const macChanged = Buffer.from(file);
    const macStart = parseHeader(file).headerLength - 44;
    macChanged[macStart] = macChanged[macStart] === 0x41 ? 0x42 : 0x41;
    const nonceChanged = Buffer.from(file);
    nonceChanged[parseHeader(file).headerLength]! ^= 0x01;
    for (const [name, bad, expected] of [
      ['first chunk', firstChunk, 'chunk_authentication_failed'],
      ['MAC', macChanged, 'header_mac_mismatch'],
      ['nonce', nonceChanged, 'chunk_authentication_failed'],
    ] as const) {
      const { reason, emitted } = await failure(bad);
      expect(reason, name).toBe(expected);
      expect(emitted, name).toBe(0);
    }
  });

  it('holds a chunk until its tag has arrived and verified', async () => {
    const plaintext = patternBytes(CHUNK_SIZE + 10);
    const file = await encrypt(plaintext, [identity.recipient]);
    const stream = createDecryptStream([identity]);
    const seen: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => seen.push(chunk));
    const firstChunkEnd = parseHeader(file).headerLength + NONCE_SIZE + ENCRYPTED_CHUNK_SIZE;
    stream.write(file.subarray(0, firstChunkEnd - 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toHaveLength(0);
    // The whole first chunk, but whether it is the final one is not known yet.
    stream.write(file.subarray(firstChunkEnd - 1, firstChunkEnd));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toHaveLength(0);
    stream.write(file.subarray(firstChunkEnd, firstChunkEnd + 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(Buffer.concat(seen)).toEqual(plaintext.subarray(0, CHUNK_SIZE));
    stream.end(file.subarray(firstChunkEnd + 1));
    await once(stream, 'end');
    expect(Buffer.concat(seen)).toEqual(plaintext);
  });

  it('detects truncation anywhere, saying so', async () => {
    const plaintext = patternBytes(3 * CHUNK_SIZE + 10);
    const file = await encrypt(plaintext, [identity.recipient]);
    const { headerLength } = parseHeader(file);
    const chunksStart = headerLength + NONCE_SIZE;
    const cases: [string, number, AgeFailureReason, string][] = [
      ['empty', 0, 'truncated', 'header'],
      ['inside the header', headerLength - 10, 'truncated', 'header'],
      ['after the header', headerLength, 'truncated', 'nonce'],
      ['inside the nonce', headerLength + 5, 'truncated', 'nonce'],
      ['before any chunk', chunksStart, 'truncated', 'payload'],
      ['after chunk 0', chunksStart + ENCRYPTED_CHUNK_SIZE, 'truncated', 'payload'],
      ['after chunk 2', chunksStart + 3 * ENCRYPTED_CHUNK_SIZE, 'truncated', 'payload'],
      // Cut inside a chunk: what is left cannot verify as a final chunk.
      ['inside chunk 1', chunksStart + ENCRYPTED_CHUNK_SIZE + 1000, 'chunk_authentication_failed', ''],
      ['the last tag', file.length - TAG_SIZE, 'truncated', 'payload'],
      ['inside the last tag', file.length - 1, 'chunk_authentication_failed', ''],
    ];
    for (const [name, length, expected, part] of cases) {
      const { reason, error, output } = await failure(file.subarray(0, length));
      expect(reason, name).toBe(expected);
      if (expected === 'truncated') {
        expect(error!.message, name).toMatch(/^truncated: /);
        expect(error!.details?.['part'], name).toBe(part);
      }
      // Whatever was released is a prefix of the plaintext, in whole verified chunks.
      expect(plaintext.subarray(0, output.length).equals(output), name).toBe(true);
      expect(output.length % CHUNK_SIZE, name).toBe(0);
    }
  });

  it('detects reordered, duplicated, dropped and foreign chunks', async () => {
    const plaintext = patternBytes(4 * CHUNK_SIZE + 10);
    const file = await encrypt(plaintext, [identity.recipient]);
    const parts = split(file);
    const [c0, c1, c2, c3, c4] = parts.chunks as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const other = split(await encrypt(plaintext, [identity.recipient]));
    const cases: [string, Buffer[], number][] = [
      ['swap 0 and 1', [c1, c0, c2, c3, c4], 0],
      ['swap 2 and 3', [c0, c1, c3, c2, c4], 2],
      ['duplicate 1', [c0, c1, c1, c2, c3, c4], 2],
      ['drop 2', [c0, c1, c3, c4], 2],
      ['final chunk moved earlier', [c0, c4, c1, c2, c3], 1],
      ['chunk from another file with the same plaintext', [c0, other.chunks[1]!, c2, c3, c4], 1],
    ];
    for (const [name, chunks, index] of cases) {
      const { reason, error, output } = await failure(join({ ...parts, chunks }));
      expect(reason, name).toBe('chunk_authentication_failed');
      expect(error!.details?.['chunk'], name).toBe(index);
      expect(output, name).toEqual(plaintext.subarray(0, index * CHUNK_SIZE));
    }
    // The payload of another file behind this header: the nonce differs, so chunk 0 fails.
    expect((await failure(Buffer.concat([parts.header, other.nonce, ...other.chunks]))).reason).toBe('chunk_authentication_failed');
  });

  it('rejects data after the final chunk', async () => {
    // Full final chunk: it verifies as final, then the extra byte is trailing data.
    const full = patternBytes(2 * CHUNK_SIZE);
    const fullFile = await encrypt(full, [identity.recipient]);
    const trailingFull = await failure(Buffer.concat([fullFile, Buffer.from([0])]));
    expect(trailingFull.reason).toBe('trailing_data');
    expect(trailingFull.output).toEqual(full);
    const twoFiles = await failure(Buffer.concat([fullFile, fullFile.subarray(parseHeader(fullFile).headerLength)]));
    expect(twoFiles.reason).toBe('trailing_data');
    // Short final chunk: extra bytes make it a different (unverifiable) chunk.
    const shortFile = await encrypt(patternBytes(CHUNK_SIZE + 5), [identity.recipient]);
    expect((await failure(Buffer.concat([shortFile, Buffer.from('x')]))).reason).toBe('chunk_authentication_failed');
  });

  it('refuses the wrong identity and another location’s identity', async () => {
    const locationA = generateIdentity();
    const locationB = generateIdentity();
    const file = await encrypt(patternBytes(1000), [locationA.recipient]);
    const wrong = await failure(file, [locationB]);
    expect(wrong.reason).toBe('no_identity_matched');
    expect(wrong.error!.message).toMatch(/no identity matched/);
    expect(wrong.emitted).toBe(0);
    expect(await decrypt(file, [locationB, locationA])).toEqual(patternBytes(1000));
  });
});

describe('one payload, many headers (fan-out)', () => {
  it('encrypts once and lets each location open its own header in front of the same payload', async () => {
    const locations = [generateIdentity(), generateIdentity(), generateIdentity()];
    const plaintext = patternBytes(3 * CHUNK_SIZE + 77);
    const fileKey = newFileKey();
    const { nonce, transform } = createPayloadEncryptor(fileKey);
    const payload = await through(plaintext, [transform]);
    expect(payload.subarray(0, NONCE_SIZE)).toEqual(nonce);
    expect(payload.length).toBe(payloadSize(plaintext.length));
    const files = locations.map((location) => Buffer.concat([encodeHeader(fileKey, [location.recipient]), payload]));
    for (const [i, location] of locations.entries()) {
      expect(await decrypt(files[i]!, [location])).toEqual(plaintext);
      expect((await failure(files[(i + 1) % locations.length]!, [location])).reason).toBe('no_identity_matched');
    }
    expect(await through(payload, [createPayloadDecryptor(fileKey)])).toEqual(plaintext);
    // Every payload gets its own nonce.
    expect(createPayloadEncryptor(fileKey).nonce.equals(nonce)).toBe(false);
  });

  it('payload-only decryption reports a truncated nonce', async () => {
    const { error } = await run(Buffer.alloc(7), [createPayloadDecryptor(newFileKey())]);
    expect(error).toBeInstanceOf(AgeDecryptionError);
    expect((error as AgeDecryptionError).reason).toBe('truncated');
    expect((error as AgeDecryptionError).details?.['part']).toBe('nonce');
  });
});

import { describe, expect, it } from 'vitest';
import { MovingDataError } from '../../errors.ts';
import { AgeDecryptionError } from './errors.ts';
import { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, createRangeDecryptor, generateIdentity, openFile, planRange, type OpenedFile } from './index.ts';
import { encrypt, patternBytes, run } from './test-support.ts';

const identity = generateIdentity();

/** Fetches what the plan says from the stored bytes (as a ranged GET would) and decrypts it. */
async function readRange(file: Buffer, opened: OpenedFile, plaintextSize: number, start: number, end: number, pieceSize = 5000) {
  const { plan, transform } = createRangeDecryptor(opened, { plaintextSize, start, end });
  const fetched = file.subarray(plan.fetchStart, plan.fetchEnd + 1);
  expect(fetched.length).toBe(plan.fetchEnd - plan.fetchStart + 1);
  const { output, error } = await run(fetched, [transform], pieceSize);
  return { plan, output, error };
}

describe('ranged reads', () => {
  for (const [label, size] of [
    ['short final chunk', 5 * CHUNK_SIZE + 1234],
    ['full final chunk', 4 * CHUNK_SIZE],
    ['single chunk', 777],
  ] as const) {
    it(`return exactly the requested bytes at chunk boundaries (${label})`, async () => {
      const plaintext = patternBytes(size, 99);
      const file = await encrypt(plaintext, [identity.recipient]);
      // A few KiB from the start of the object hold the header and the nonce.
      const opened = openFile(file.subarray(0, 4096), [identity]);
      const last = size - 1;
      const ranges: [number, number][] = [
        [0, 0],
        [0, last],
        [last, last],
        [Math.max(0, last - 100), last],
        [Math.min(1000, last), Math.min(2000, last)],
      ];
      if (size > CHUNK_SIZE) {
        ranges.push(
          [CHUNK_SIZE - 1, CHUNK_SIZE - 1],
          [CHUNK_SIZE, CHUNK_SIZE],
          [CHUNK_SIZE - 1, CHUNK_SIZE],
          [CHUNK_SIZE, 2 * CHUNK_SIZE - 1],
          [100, 3 * CHUNK_SIZE + 5],
          [CHUNK_SIZE * Math.floor(last / CHUNK_SIZE), last],
        );
      }
      for (const [start, end] of ranges) {
        const { plan, output, error } = await readRange(file, opened, size, start, end);
        expect(error, `${start}-${end}`).toBeUndefined();
        expect(output.equals(plaintext.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
        // Only the chunks holding the range are fetched.
        const chunks = Math.floor(end / CHUNK_SIZE) - Math.floor(start / CHUNK_SIZE) + 1;
        expect(plan.lastChunk - plan.firstChunk + 1).toBe(chunks);
        expect(plan.fetchEnd - plan.fetchStart + 1).toBeLessThanOrEqual(chunks * ENCRYPTED_CHUNK_SIZE);
        expect(plan.lastIsFinal).toBe(plan.lastChunk === Math.ceil(size / CHUNK_SIZE) - 1);
      }
      // The whole-file range ends exactly at the end of the stored object.
      expect(planRange({ headerLength: opened.headerLength, plaintextSize: size, start: 0, end: last }).fetchEnd).toBe(file.length - 1);
    });
  }

  it('authenticates every fetched chunk and reports short or long fetches', async () => {
    const size = 4 * CHUNK_SIZE + 500;
    const plaintext = patternBytes(size, 5);
    const file = await encrypt(plaintext, [identity.recipient]);
    const opened = openFile(file, [identity]);
    const { plan, transform } = createRangeDecryptor(opened, { plaintextSize: size, start: CHUNK_SIZE + 10, end: 3 * CHUNK_SIZE + 10 });
    const fetched = Buffer.from(file.subarray(plan.fetchStart, plan.fetchEnd + 1));
    const reason = async (bytes: Buffer, fresh = createRangeDecryptor(opened, { plaintextSize: size, start: CHUNK_SIZE + 10, end: 3 * CHUNK_SIZE + 10 }).transform) => {
      const { error, emitted } = await run(bytes, [fresh]);
      expect(error).toBeInstanceOf(AgeDecryptionError);
      return { reason: (error as AgeDecryptionError).reason, emitted };
    };
    // A changed byte in the last fetched chunk: the first chunks come out, that one does not.
    const tampered = Buffer.from(fetched);
    tampered[tampered.length - 100]! ^= 1;
    const { output, error } = await run(tampered, [transform]);
    expect((error as AgeDecryptionError).reason).toBe('chunk_authentication_failed');
    expect(output).toEqual(plaintext.subarray(CHUNK_SIZE + 10, 3 * CHUNK_SIZE));
    // The first fetched chunk changed: nothing at all.
    const first = Buffer.from(fetched);
    first[3]! ^= 1;
    expect(await reason(first)).toEqual({ reason: 'chunk_authentication_failed', emitted: 0 });
    // Fetched bytes from the wrong offset (chunks out of place).
    expect((await reason(Buffer.from(file.subarray(plan.fetchStart + ENCRYPTED_CHUNK_SIZE, plan.fetchEnd + 1 + ENCRYPTED_CHUNK_SIZE)))).reason).toBe('chunk_authentication_failed');
    expect((await reason(fetched.subarray(0, fetched.length - 1))).reason).toBe('truncated');
    expect((await reason(fetched.subarray(0, 2 * ENCRYPTED_CHUNK_SIZE))).reason).toBe('truncated');
    expect((await reason(Buffer.concat([fetched, Buffer.alloc(1)]))).reason).toBe('trailing_data');
  });

  it('rejects ranges outside the plaintext with range_not_satisfiable', () => {
    const headerLength = 200;
    for (const [size, start, end] of [
      [0, 0, 0],
      [10, 5, 10],
      [10, 5, 4],
      [10, -1, 3],
      [10, 0.5, 3],
    ] as const) {
      try {
        planRange({ headerLength, plaintextSize: size, start, end });
        throw new Error(`${size} ${start}-${end} accepted`);
      } catch (err) {
        expect(err).toBeInstanceOf(MovingDataError);
        expect((err as MovingDataError).code).toBe('range_not_satisfiable');
      }
    }
  });

  it('needs the header and nonce in the first bytes', async () => {
    const file = await encrypt(patternBytes(100), [identity.recipient]);
    const opened = openFile(file, [identity]);
    expect(() => openFile(file.subarray(0, opened.headerLength + 3), [identity])).toThrow(/nonce/);
    expect(() => openFile(file.subarray(0, 20), [identity])).toThrow(/header/);
    expect(() => openFile(file, [generateIdentity()])).toThrow(/no identity matched/);
    expect(opened.chunksOffset).toBe(opened.headerLength + 16);
  });
});

/**
 * Helpers for the age tests: whole buffers through our streams, fed in chosen piece sizes so that
 * chunk assembly across arbitrary boundaries is exercised. Test-only: production code streams.
 */
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream, type Identity, type Recipient } from './index.ts';

export function* pieces(bytes: Buffer, size: number): Generator<Buffer> {
  if (bytes.length === 0) return;
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

export interface Outcome {
  /** Everything the stream emitted, in order. */
  readonly output: Buffer;
  /** How many `data` chunks were emitted before the stream ended or failed. */
  readonly emitted: number;
  readonly error: unknown;
}

/** Runs `input` through `stages`, collecting what comes out and the error, if any. */
export async function run(input: Buffer, stages: readonly Transform[], pieceSize = 65536): Promise<Outcome> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.push(chunk);
      callback();
    },
  });
  let error: unknown;
  try {
    await pipeline([Readable.from(pieces(input, pieceSize)), ...stages, sink]);
  } catch (err) {
    error = err;
  }
  return { output: Buffer.concat(out), emitted: out.length, error };
}

/** Runs and throws on error. */
export async function through(input: Buffer, stages: readonly Transform[], pieceSize = 65536): Promise<Buffer> {
  const { output, error } = await run(input, stages, pieceSize);
  if (error !== undefined) throw error as Error;
  return output;
}

export function encrypt(plaintext: Buffer, recipients: readonly Recipient[], pieceSize?: number): Promise<Buffer> {
  return through(plaintext, [createEncryptStream(recipients)], pieceSize);
}

export function decrypt(file: Buffer, identities: readonly Identity[], pieceSize?: number): Promise<Buffer> {
  return through(file, [createDecryptStream(identities)], pieceSize);
}

/** Deterministic, non-repeating test bytes (a counter pattern), cheap to regenerate for any size. */
export function patternBytes(size: number, seed = 1): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 1) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

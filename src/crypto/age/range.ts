/**
 * Ranged reads: which stored bytes hold a plaintext range, and a stream that decrypts just those
 * chunks and trims them to the range. Chunk i of the plaintext (64 KiB) is stored at
 * `headerLength + 16 + i × (64 KiB + 16)`; the final chunk is the one holding the last byte, and
 * it is decrypted as final whenever the range reaches it (the spec's rule for seeking).
 */
import type { Transform } from 'node:stream';
import { MovingDataError } from '../../errors.ts';
import { invalidArgument } from './errors.ts';
import { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, PayloadDecryptStream, TAG_SIZE, chunkCount } from './stream.ts';

export interface RangePlan {
  /** The plaintext range, inclusive. */
  readonly start: number;
  readonly end: number;
  /** The stored bytes to fetch, inclusive (an HTTP `Range: bytes=fetchStart-fetchEnd`). */
  readonly fetchStart: number;
  readonly fetchEnd: number;
  /** Chunks the fetched bytes hold. */
  readonly firstChunk: number;
  readonly lastChunk: number;
  /** Whether `lastChunk` is the file's final chunk (it then decrypts with the final flag). */
  readonly lastIsFinal: boolean;
}

export interface RangeRequest {
  /** Bytes of the stored header (from `readHeader` / `openFile`). */
  readonly headerLength: number;
  /** Size of the whole plaintext. */
  readonly plaintextSize: number;
  /** First plaintext byte wanted. */
  readonly start: number;
  /** Last plaintext byte wanted, inclusive. */
  readonly end: number;
}

/** Throws `range_not_satisfiable` unless 0 ≤ start ≤ end < plaintextSize. */
export function planRange(request: RangeRequest): RangePlan {
  const { headerLength, plaintextSize, start, end } = request;
  if (!Number.isSafeInteger(headerLength) || headerLength <= 0) throw invalidArgument(`header length must be a positive integer, got ${headerLength}`);
  const chunks = chunkCount(plaintextSize);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end >= plaintextSize) {
    throw new MovingDataError('range_not_satisfiable', `range ${start}-${end} is not within a plaintext of ${plaintextSize} bytes`, {
      details: { start, end, size: plaintextSize },
    });
  }
  const firstChunk = Math.floor(start / CHUNK_SIZE);
  const lastChunk = Math.floor(end / CHUNK_SIZE);
  const lastIsFinal = lastChunk === chunks - 1;
  const chunksOffset = headerLength + NONCE_SIZE;
  const lastChunkBytes = lastIsFinal ? plaintextSize - lastChunk * CHUNK_SIZE + TAG_SIZE : ENCRYPTED_CHUNK_SIZE;
  return {
    start,
    end,
    fetchStart: chunksOffset + firstChunk * ENCRYPTED_CHUNK_SIZE,
    fetchEnd: chunksOffset + lastChunk * ENCRYPTED_CHUNK_SIZE + lastChunkBytes - 1,
    firstChunk,
    lastChunk,
    lastIsFinal,
  };
}

/**
 * Decrypts the bytes fetched for `plan` (exactly `fetchStart..fetchEnd`) and emits exactly the
 * plaintext `start..end`. Every fetched chunk is authenticated before any of its bytes is
 * emitted; fewer or more bytes than planned are `truncated` / `trailing_data`.
 */
export function createRangeDecryptStream(fileKey: Buffer, nonce: Buffer, plan: RangePlan): Transform {
  return new PayloadDecryptStream(fileKey, {
    nonce,
    firstChunk: plan.firstChunk,
    chunks: plan.lastChunk - plan.firstChunk + 1,
    endsWithFinal: plan.lastIsFinal,
    skip: plan.start - plan.firstChunk * CHUNK_SIZE,
    length: plan.end - plan.start + 1,
  });
}

/**
 * CRC-32 (the zlib / S3 `ChecksumCRC32` polynomial) of a concatenation from the CRCs of its
 * parts: crc(A ‖ B) = combine(crc(A), crc(B), len(B)). Fan-out stores one payload behind a
 * different age header per location; with this, the payload is checksummed once (natively, by
 * zlib.crc32) and each location's expected CRC-32 costs a few microseconds.
 *
 * Written here because Node exposes zlib's crc32() but not crc32_combine(). The method is
 * zlib's: appending len(B) zero bytes to A is a linear map over GF(2), applied by repeated
 * squaring of the one-zero-bit operator, then xor with crc(B).
 */
import { crc32 } from 'node:zlib';

const POLY = 0xedb88320;

function gf2Times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  let v = vector >>> 0;
  for (let i = 0; v !== 0; i++, v >>>= 1) if (v & 1) sum ^= matrix[i]!;
  return sum >>> 0;
}

function gf2Square(square: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(matrix, matrix[n]!);
}

/** CRC-32 of A ‖ B, given crc(A), crc(B) and the length of B in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = POLY;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row >>> 0;
  gf2Square(even, odd); // two zero bits
  gf2Square(odd, even); // four zero bits
  let crc = crcA >>> 0;
  let remaining = lengthB;
  do {
    gf2Square(even, odd);
    if (remaining % 2 === 1) crc = gf2Times(even, crc);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    gf2Square(odd, even);
    if (remaining % 2 === 1) crc = gf2Times(odd, crc);
    remaining = Math.floor(remaining / 2);
  } while (remaining !== 0);
  return (crc ^ crcB) >>> 0;
}

/** Lowercase hex, as the storage port reports checksums. */
export function crc32Hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

export function crc32Of(bytes: Uint8Array, previous = 0): number {
  return crc32(bytes, previous) >>> 0;
}

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

/**
 * ZEROS[k]: the operator that appends 2^k zero bytes, built once on first use by repeated
 * squaring of the one-zero-bit operator (zlib rebuilds them on every call; fan-out combines
 * twice per copy, so they are kept). 53 operators cover every safe-integer length.
 */
let ZEROS: Uint32Array[] | undefined;

function zeroOperators(): Uint32Array[] {
  if (ZEROS !== undefined) return ZEROS;
  let op = new Uint32Array(32);
  op[0] = POLY;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) op[n] = row >>> 0;
  for (let bits = 1; bits < 8; bits *= 2) {
    const next = new Uint32Array(32);
    gf2Square(next, op);
    op = next;
  }
  const operators = [op];
  for (let k = 1; k < 53; k++) {
    const next = new Uint32Array(32);
    gf2Square(next, operators[k - 1]!);
    operators.push(next);
  }
  ZEROS = operators;
  return operators;
}

/** CRC-32 of A ‖ B, given crc(A), crc(B) and the length of B in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const operators = zeroOperators();
  let crc = crcA >>> 0;
  let remaining = lengthB;
  for (let k = 0; remaining > 0; k++) {
    if (remaining % 2 === 1) crc = gf2Times(operators[k]!, crc);
    remaining = Math.floor(remaining / 2);
  }
  return (crc ^ crcB) >>> 0;
}

/** Lowercase hex, as the storage port reports checksums. */
export function crc32Hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

export function crc32Of(bytes: Uint8Array, previous = 0): number {
  return crc32(bytes, previous) >>> 0;
}

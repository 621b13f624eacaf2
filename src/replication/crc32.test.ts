import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32Combine, crc32Of } from './crc32.ts';

describe('crc32Combine', () => {
  it('equals the CRC-32 of the concatenation, for many sizes', () => {
    for (const [a, b] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [168, 1],
      [168, 65552],
      [7, 3 * 1024 * 1024 + 5],
      [200, 1_000_003],
    ] as const) {
      const left = randomBytes(a);
      const right = randomBytes(b);
      expect(crc32Combine(crc32Of(left), crc32Of(right), right.length), `${a}+${b}`).toBe(crc32Of(Buffer.concat([left, right])));
    }
  });

  it('is associative for lengths past 4 GiB (the high zero-byte operators)', () => {
    const [a, b, c] = [0x12345678, 0x9abcdef0, 0x0badf00d];
    for (const [lb, lc] of [
      [2 ** 33 + 7, 2 ** 32 + 1],
      [5 * 1024 ** 3, 3],
      [1, 2 ** 40 + 12345],
    ] as const) {
      expect(crc32Combine(crc32Combine(a, b, lb), c, lc), `${lb}+${lc}`).toBe(crc32Combine(a, crc32Combine(b, c, lc), lb + lc));
    }
  });

  it('matches a known vector: "123456789" is cbf43926', () => {
    expect(crc32Combine(crc32Of(Buffer.from('1234')), crc32Of(Buffer.from('56789')), 5).toString(16)).toBe('cbf43926');
  });
});

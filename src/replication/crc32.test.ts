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

  it('matches a known vector: "123456789" is cbf43926', () => {
    expect(crc32Combine(crc32Of(Buffer.from('1234')), crc32Of(Buffer.from('56789')), 5).toString(16)).toBe('cbf43926');
  });
});

import { randomBytes } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import { Crc32c, crc32c } from '../crc32c.ts';

describe('crc32c (slicing-by-16)', () => {
  it('gives the check value of the Castagnoli polynomial for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('matches the SDK for every length up to 100 bytes and for large odd lengths, in pieces too', () => {
    const data = randomBytes(3 * 1024 * 1024 + 7);
    for (const length of [...Array.from({ length: 101 }, (_, i) => i), 1024 * 1024 + 13, data.length]) {
      const expected = new CRC32C();
      expected.update(data.subarray(0, length));
      const whole = new Crc32c();
      whole.update(data.subarray(0, length));
      expect(whole.toString(), `length ${length}`).toBe(expected.toString());
      const pieces = new Crc32c();
      for (let at = 0; at < length; at += 1000 + (at % 17)) pieces.update(data.subarray(at, Math.min(length, at + 1000 + (at % 17))));
      expect(pieces.value, `length ${length} in pieces`).toBe(whole.value);
      expect(pieces.validate(expected.toString())).toBe(true);
    }
  });
});

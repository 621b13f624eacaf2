import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffCeilingMs, backoffDelayMs, checkBackoffPolicy } from './backoff.ts';

/** mulberry32: a tiny seeded PRNG, so the jitter below is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('backoff', () => {
  it('doubles the ceiling from the base with each failure, up to the cap', () => {
    const ceilings = Array.from({ length: 12 }, (_, i) => backoffCeilingMs(i + 1));
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000]);
    expect(backoffCeilingMs(10_000)).toBe(DEFAULT_BACKOFF.capMs); // no overflow to Infinity or NaN
    expect(backoffCeilingMs(0)).toBe(1000); // "no failure yet" is treated as the first
    expect(backoffCeilingMs(3, { baseMs: 50, capMs: 120 })).toBe(120);
  });

  it('draws the delay uniformly from [0, ceiling] with the injected random source', () => {
    expect(backoffDelayMs(4, DEFAULT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelayMs(4, DEFAULT_BACKOFF, () => 0.5)).toBe(4000);
    // The top of [0, 1) reaches the ceiling itself, and nothing goes beyond it.
    expect(backoffDelayMs(4, DEFAULT_BACKOFF, () => 0.9999999999)).toBe(8000);
    expect(backoffDelayMs(4, DEFAULT_BACKOFF, () => 1)).toBe(8000);
    expect(backoffDelayMs(4, DEFAULT_BACKOFF, () => Number.NaN)).toBe(8000);

    const random = seeded(42);
    const delays = Array.from({ length: 2000 }, () => backoffDelayMs(6, DEFAULT_BACKOFF, random));
    expect(delays.every((d) => Number.isInteger(d) && d >= 0 && d <= 32_000)).toBe(true);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(15_000); // uniform on [0, 32 000]: mean 16 000
    expect(mean).toBeLessThan(17_000);
    // Spread, not waves: jobs failing together retry at many different times.
    expect(new Set(delays.map((d) => Math.floor(d / 1000))).size).toBeGreaterThan(30);
    // The same seed gives the same schedule.
    const again = seeded(42);
    expect(Array.from({ length: 2000 }, () => backoffDelayMs(6, DEFAULT_BACKOFF, again))).toEqual(delays);
  });

  it('refuses a policy that makes no sense', () => {
    expect(() => checkBackoffPolicy({ baseMs: -1, capMs: 10 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }) as Error);
    expect(() => checkBackoffPolicy({ baseMs: 100, capMs: 10 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }) as Error);
    expect(() => checkBackoffPolicy({ baseMs: 0.5, capMs: 10 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }) as Error);
    expect(checkBackoffPolicy({ baseMs: 0, capMs: 0 })).toEqual({ baseMs: 0, capMs: 0 });
  });
});

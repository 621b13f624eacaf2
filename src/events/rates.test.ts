import { describe, expect, it } from 'vitest';
import { RateWindow } from './rates.ts';

describe('RateWindow', () => {
  it('averages counts per second over the window, forgetting what is older', () => {
    const start = 1_000_000_000_000;
    const w = new RateWindow(start);
    for (let s = 0; s < 120; s += 1) w.add(10, start + s * 1000);
    // 60 full seconds of 10 each before second 120.
    expect(w.perSecond(60, start + 120_000)).toBeCloseTo(10, 6);
    expect(w.perSecond(300, start + 120_000)).toBeCloseTo((120 * 10) / 300, 6);
    // Ten minutes of silence later, the last minute is empty and the total stays.
    expect(w.perSecond(60, start + 720_000)).toBe(0);
    expect(w.total).toBe(1200);
    // Beyond the ring, nothing is left.
    expect(w.rates(start + 2_000_000).m15).toBe(0);
  });
});

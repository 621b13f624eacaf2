import { describe, expect, it } from 'vitest';
import { advance, emptyWindow } from './live.ts';

describe('the live throughput window', () => {
  it('starts as `seconds` zeros ending now, one a second', () => {
    const window = emptyWindow(5, 1000);
    expect(window.t).toEqual([996, 997, 998, 999, 1000]);
    expect(window.counts).toEqual({ access: [0, 0, 0, 0, 0], reading: [0, 0, 0, 0, 0], alert: [0, 0, 0, 0, 0] });
  });

  it('moves on by one second, dropping the oldest and keeping the length', () => {
    const next = advance(emptyWindow(3, 10), 11, { access: 4, reading: 2, alert: 1 });
    expect(next.t).toEqual([9, 10, 11]);
    expect(next.counts).toEqual({ access: [0, 0, 4], reading: [0, 0, 2], alert: [0, 0, 1] });
    const after = advance(next, 12, { access: 1, reading: 0, alert: 0 });
    expect(after.counts.access).toEqual([0, 4, 1]);
  });
});

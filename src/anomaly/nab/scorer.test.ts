import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNabTimestamp, readNabProfiles, readNabResults, readNabWindows } from './corpus.ts';
import { NEVER, probationLength, scaledSigmoid, scoreCorpus, scoreSeries, type AnomalyWindow, type CostMatrix } from './scorer.ts';

const NAB_DIR = join(import.meta.dirname, '../../../test/fixtures/nab');
const STANDARD: CostMatrix = { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 };
const MINUTE = 60_000;

/** A series of `rows` one-minute rows whose score is 1 at the given rows and 0 elsewhere. */
function series(rows: number, detections: readonly number[]): { timestamps: Float64Array; scores: Float64Array } {
  const timestamps = Float64Array.from({ length: rows }, (_, i) => i * MINUTE);
  const scores = new Float64Array(rows);
  for (const d of detections) scores[d] = 1;
  return { timestamps, scores };
}
const window = (first: number, last: number): AnomalyWindow => [first * MINUTE, last * MINUTE];

describe('NAB scorer, hand-made cases', () => {
  // 1000 rows: probation is 150 rows; one window over rows 400..499 (width 100).
  const windows = [window(400, 499)];

  it('has NAB probation and sigmoid', () => {
    expect(probationLength(1000)).toBe(150);
    expect(probationLength(4000)).toBe(600);
    expect(probationLength(22_695)).toBe(750);
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(3.01)).toBe(-1);
  });

  it('a detection at the window start earns tpWeight, later ones in it add nothing', () => {
    expect(scoreSeries(series(1000, [400]), windows, STANDARD, 0.5)).toBeCloseTo(1, 12);
    expect(scoreSeries(series(1000, [400, 420, 498]), windows, STANDARD, 0.5)).toBeCloseTo(1, 12);
    expect(scoreSeries(series(1000, [400]), windows, { ...STANDARD, tpWeight: 2 }, 0.5)).toBeCloseTo(2, 12);
  });

  it('a later detection in the window earns less: the sigmoid of its position', () => {
    // Row 449: y = -(499 - 449 + 1) / 100 = -0.51.
    expect(scoreSeries(series(1000, [449]), windows, STANDARD, 0.5)).toBeCloseTo(scaledSigmoid(-0.51) / scaledSigmoid(-1), 12);
    expect(scoreSeries(series(1000, [449]), windows, STANDARD, 0.5)).toBeLessThan(0.9);
  });

  it('a missed window costs fnWeight', () => {
    expect(scoreSeries(series(1000, []), windows, STANDARD, 0.5)).toBe(-1);
    expect(scoreSeries(series(1000, []), windows, { ...STANDARD, fnWeight: 2 }, 0.5)).toBe(-2);
  });

  it('a false positive before any window costs fpWeight; in probation it costs nothing', () => {
    expect(scoreSeries(series(1000, [200]), windows, STANDARD, 0.5)).toBeCloseTo(-1 - 0.11, 12);
    expect(scoreSeries(series(1000, [100]), windows, STANDARD, 0.5)).toBe(-1);
  });

  it('a false positive after a window costs less near it, fpWeight three widths past it', () => {
    const near = scoreSeries(series(1000, [400, 510]), windows, STANDARD, 0.5);
    expect(near).toBeCloseTo(1 + 0.11 * scaledSigmoid(11 / 99), 12);
    expect(near).toBeGreaterThan(1 - 0.11);
    expect(scoreSeries(series(1000, [400, 900]), windows, STANDARD, 0.5)).toBeCloseTo(1 - 0.11, 12);
  });

  it('optimises the threshold over the corpus and normalises between null and perfect', () => {
    // File a: the true anomaly scores 0.9, noise scores 0.6 three times outside the window.
    const a = series(1000, [400]);
    a.scores[600] = a.scores[700] = a.scores[800] = 0.6;
    a.scores[400] = 0.9;
    const results = new Map([['a.csv', a], ['b.csv', series(1000, [])]]);
    const ws = new Map([['a.csv', windows], ['b.csv', [window(300, 349)]]]);
    const score = scoreCorpus(results, ws, new Map([['standard', STANDARD]])).get('standard')!;
    expect(score.threshold).toBe(0.9);
    expect(score.rawNull).toBe(-2);
    expect(score.rawPerfect).toBe(2);
    expect(score.raw).toBeCloseTo(1 - 1, 12);
    expect(score.normalised).toBeCloseTo(50, 10);
    // With no detection at all, the best is never detecting.
    const none = scoreCorpus(new Map([['b.csv', series(1000, [])]]), ws, new Map([['standard', STANDARD]])).get('standard')!;
    expect(none.threshold).toBe(NEVER);
    expect(none.normalised).toBe(0);
  });

  it('reads NAB timestamps as UTC', () => {
    expect(parseNabTimestamp('2014-02-19 10:50:00.000000')).toBe(Date.UTC(2014, 1, 19, 10, 50));
    expect(parseNabTimestamp('2014-02-19 10:50:00')).toBe(Date.UTC(2014, 1, 19, 10, 50));
  });
});

describe('NAB scorer on the published results of the 31-file subset', () => {
  // The README's table: NAB's own run.py --optimize --score --normalize on these files.
  const REFERENCE: Record<string, [number, number, number]> = {
    numenta: [71.21, 64.99, 75.87],
    windowedGaussian: [36.71, 21.4, 45.17],
    null: [0, 0, 0],
  };
  for (const [detector, [standard, lowFp, lowFn]] of Object.entries(REFERENCE)) {
    it(`reproduces ${detector}: ${standard} / ${lowFp} / ${lowFn}`, async () => {
      const [windows, profiles, results] = await Promise.all([readNabWindows(NAB_DIR), readNabProfiles(NAB_DIR), readNabResults(join(NAB_DIR, 'results'), detector)]);
      expect(results.size).toBe(31);
      const scores = scoreCorpus(results, windows, profiles);
      const got = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'].map((p) => scores.get(p)!.normalised);
      got.forEach((value, i) => expect(Math.abs(value - [standard, lowFp, lowFn][i]!), `${detector} profile ${i}: ${value}`).toBeLessThanOrEqual(0.01));
    });
  }
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectCorpus } from '../../bench/nab/nab.ts';
import { AnomalyDetector, DEFAULT_ANOMALY_THRESHOLD } from './detector.ts';
import { readNabData, readNabProfiles, readNabWindows } from './nab/corpus.ts';
import { scoreCorpus } from './nab/scorer.ts';
import { mulberry32 as random } from '../random.ts';
import { sensorSeries, type Fault } from './synthetic.ts';

const AT = 2000;
const LENGTH = 3000;
const SEEDS = [1, 2, 3, 4, 5];

/** Indices the detector flags (score ≥ the default threshold) over a generated series. */
function flagged(fault: Fault, seed: number): number[] {
  const { timestamps, values } = sensorSeries({ seed, length: LENGTH, fault, at: AT });
  const detector = new AnomalyDetector();
  const out: number[] = [];
  values.forEach((v, i) => {
    if (detector.update(timestamps[i]!, v) >= DEFAULT_ANOMALY_THRESHOLD) out.push(i);
  });
  return out;
}

describe('AnomalyDetector on generated sensor series', () => {
  // Within `delay` events of the fault's start, in every seed.
  const CASES: [Fault, number][] = [
    ['spike', 2],
    ['level', 3],
    ['stuck', 10],
    // Drift of +0.5 a step on a ±10 sine with σ = 2 is flagged once it is about half the
    // normal range above it (the excursion channel): some 40 steps in.
    ['drift', 60],
  ];
  for (const [fault, delay] of CASES) {
    it(`flags a ${fault} within ${delay} events`, () => {
      for (const seed of SEEDS) {
        const hits = flagged(fault, seed).filter((i) => i >= AT && i <= AT + delay);
        expect(hits.length, `seed ${seed}`).toBeGreaterThan(0);
      }
    });
  }

  it('rarely flags clean noise (at most 0.3% of events, and never in the 100 before the fault point)', () => {
    for (const seed of SEEDS) {
      const hits = flagged('none', seed);
      expect(hits.length, `seed ${seed}: ${hits.join(' ')}`).toBeLessThanOrEqual(0.003 * LENGTH);
    }
    // The faults' own detections above are not explained by noise right before them.
    for (const seed of SEEDS) expect(flagged('none', seed).filter((i) => i >= AT - 100 && i <= AT + 60)).toEqual([]);
  });

  it('scores always lie in [0, 1], whatever the input', () => {
    const uniform = random(7);
    const detector = new AnomalyDetector();
    const specials = [Number.NaN, Infinity, -Infinity, 1e300, -1e300, 0, -0, 5e-324];
    for (let i = 0; i < 20_000; i++) {
      const r = uniform();
      const value = r < 0.01 ? specials[Math.floor(uniform() * specials.length)]! : r < 0.3 ? 42 : r < 0.6 ? uniform() * 100 : (uniform() - 0.5) * 1e6;
      const score = detector.update(i * 1000, value);
      expect(score).toBeGreaterThanOrEqual(0);
      expect(score).toBeLessThanOrEqual(1);
      expect(Number.isNaN(score)).toBe(false);
    }
    const constant = new AnomalyDetector();
    for (let i = 0; i < 20_000; i++) expect(constant.update(i, 3)).toBeLessThan(1e-6); // a sensor constant by nature is never anomalous
  });

  it('keeps constant memory: state size and heap do not grow with events', () => {
    const uniform = random(11);
    const detector = new AnomalyDetector();
    for (let i = 0; i < 1000; i++) detector.update(i, uniform());
    const bytes = detector.stateBytes;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 1000; i < 300_000; i++) detector.update(i, uniform() * (1 + (i % 977)));
    gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    expect(detector.events).toBe(300_000);
    expect(detector.stateBytes).toBe(bytes);
    expect(bytes).toBeLessThan(140 * 1024);
    expect(heapAfter - heapBefore).toBeLessThan(2 * 1024 * 1024);
  });

  it('is deterministic: the same stream gives the same scores', () => {
    const { timestamps, values } = sensorSeries({ seed: 3, length: 1500, fault: 'spike', at: 1000 });
    const a = new AnomalyDetector();
    const b = new AnomalyDetector();
    for (let i = 0; i < values.length; i++) expect(a.update(timestamps[i]!, values[i]!)).toBe(b.update(timestamps[i]!, values[i]!));
  });
});

describe('AnomalyDetector on the NAB subset (test/fixtures/nab)', () => {
  it('scores ≥ 65 on the standard profile, with DEFAULT_ANOMALY_THRESHOLD as the optimised threshold', async () => {
    const dir = join(import.meta.dirname, '../../test/fixtures/nab');
    const [series, windows, profiles] = await Promise.all([readNabData(dir), readNabWindows(dir), readNabProfiles(dir)]);
    expect(series.length).toBe(31);
    const { results } = detectCorpus(series);
    const scores = scoreCorpus(results, windows, profiles);
    const standard = scores.get('standard')!;
    expect(standard.normalised).toBeGreaterThanOrEqual(65);
    expect(standard.threshold).toBe(DEFAULT_ANOMALY_THRESHOLD);
    expect(scores.get('reward_low_FN_rate')!.normalised).toBeGreaterThanOrEqual(65);
  });
});

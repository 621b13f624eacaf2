/**
 * Synthetic sensor series for the anomaly tests: a seeded generator of a noisy periodic signal
 * and the four faults a sensor shows (spike, level shift, drift, stuck value), so the tests do
 * not depend on any data file and fail the same way every run.
 */
import { mulberry32 } from '../random.ts';

/** Standard normal samples (Box–Muller) from a uniform source. */
export function gaussian(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export type Fault = 'none' | 'spike' | 'level' | 'drift' | 'stuck';

/**
 * `length` values of 50 + 10·sin(2πi/period) + N(0, noise²), one a minute from 2024-01-01, with
 * a fault from index `at`: spike (one value +40), level (+25 from there on), drift (+0.5 per
 * step from there on), stuck (the value at `at` repeated from there on).
 */
export function sensorSeries(options: { seed: number; length: number; fault: Fault; at?: number; period?: number; noise?: number }): { timestamps: number[]; values: number[] } {
  const { seed, length, fault } = options;
  const at = options.at ?? length;
  const period = options.period ?? 60;
  const noise = options.noise ?? 2;
  const normal = gaussian(mulberry32(seed));
  const start = Date.UTC(2024, 0, 1);
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < length; i++) {
    let v = 50 + 10 * Math.sin((2 * Math.PI * i) / period) + noise * normal();
    if (i >= at) {
      if (fault === 'spike' && i === at) v += 40;
      if (fault === 'level') v += 25;
      if (fault === 'drift') v += 0.5 * (i - at);
      if (fault === 'stuck') v = values[at - 1]!;
    }
    timestamps.push(start + i * 60_000);
    values.push(v);
  }
  return { timestamps, values };
}

import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BillingRules } from './billing.ts';
import { awsBillingRules, scheduleCost } from './billing.ts';
import { Rng, generateTrace } from './generate.ts';
import { optimizeObject, optimizeTrace, readsFromCreation } from './optimum.ts';
import type { ClassPrices, Figure } from './prices.ts';
import { loadPriceTables } from './prices.ts';
import { builtinPolicies, simulate } from './simulate.ts';
import { parseTrace } from './trace.ts';

let aws: BillingRules;
beforeAll(async () => {
  aws = awsBillingRules((await loadPriceTables()).aws);
});

/** The AWS rules with minimum durations shrunk so that small horizons exercise them. */
function shrunk(rules: BillingRules, minDays: readonly number[], scale: readonly number[]): BillingRules {
  const fig = (f: Figure, value: number): Figure => ({ ...f, value });
  const classes = rules.classes.map(
    (c, i): ClassPrices => ({
      ...c,
      minDurationDays: fig(c.minDurationDays, minDays[i]!),
      storagePerGbMonth: fig(c.storagePerGbMonth, c.storagePerGbMonth.value * scale[i]!),
    }),
  );
  return { ...rules, classes };
}

function bruteForce(rules: BillingRules, size: number, reads: readonly number[]): number {
  const n = rules.classes.length;
  const span = reads.length;
  const schedule = new Array<number>(span).fill(0);
  let best = Number.POSITIVE_INFINITY;
  for (let code = 0; code < n ** span; code += 1) {
    let x = code;
    for (let d = 0; d < span; d += 1) {
      schedule[d] = x % n;
      x = Math.floor(x / n);
    }
    best = Math.min(best, scheduleCost(rules, size, reads, schedule));
  }
  return best;
}

describe('offline optimum', () => {
  it('equals brute force over every schedule on random small cases', () => {
    const rng = new Rng(42);
    for (let trial = 0; trial < 150; trial += 1) {
      const span = 1 + rng.int(0, 7);
      const minDays = [rng.int(0, 2), rng.int(0, 4), rng.int(0, 6)];
      const scale = [1, 0.3 + rng.next() * 2, 0.3 + rng.next() * 3];
      const rules = shrunk(aws, minDays, scale);
      const size = [1000, 200_000, 2 ** 30, 30 * 2 ** 30][rng.int(0, 4)]!;
      const reads = Array.from({ length: span }, () => (rng.next() < 0.4 ? rng.int(1, 4) : 0));
      const opt = optimizeObject(rules, size, reads, span);
      const brute = bruteForce(rules, size, reads);
      expect(opt.cost, JSON.stringify({ trial, span, minDays, size, reads })).toBeCloseTo(brute, 12);
      // The schedule it returns costs what it says under the one biller.
      expect(scheduleCost(rules, size, reads, opt.schedule)).toBeCloseTo(opt.cost, 12);
    }
  });

  it('is ≤ every policy on generated traces, object by object', async () => {
    const fixture = parseTrace(await readFile(new URL('../../test/fixtures/traces/mix-200x365-seed11.jsonl', import.meta.url), 'utf8'));
    for (const trace of [fixture, generateTrace({ seed: 3, objects: 300, days: 200 })]) {
      const opt = optimizeTrace(aws, trace);
      for (const policy of builtinPolicies(aws)) {
        const r = simulate(aws, trace, policy);
        expect(opt.total, policy.name).toBeLessThanOrEqual(r.total + 1e-9);
        // Intelligent-Tiering is billed by other rules (no retrieval fees), so only the
        // class-billed policies are bounded object by object.
        if (policy.billing === 'intelligent-tiering') continue;
        for (const o of trace.objects) expect(opt.perObject.get(o.key)!).toBeLessThanOrEqual(r.perObject.get(o.key)! + 1e-12);
      }
      // Each optimal schedule re-billed by the simulator's biller gives the same cost.
      for (const o of trace.objects.slice(0, 40)) {
        const reads = readsFromCreation(o, trace.days);
        const { cost, schedule } = optimizeObject(aws, o.size, reads, reads.length);
        expect(scheduleCost(aws, o.size, reads, schedule)).toBeCloseTo(cost, 10);
      }
    }
  });

  it('keeps an idle large object cold and a hot one in Standard', () => {
    const idle = optimizeObject(aws, 10 * 2 ** 30, new Array<number>(365).fill(0), 365);
    expect(idle.schedule[0]).toBe(2);
    const hot = optimizeObject(aws, 10 * 2 ** 30, new Array<number>(365).fill(5), 365);
    expect([...hot.schedule].every((c) => c === 0)).toBe(true);
  });
});

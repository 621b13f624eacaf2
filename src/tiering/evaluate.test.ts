import { describe, expect, it } from 'vitest';
import { awsBillingRules } from './billing.ts';
import { evaluate } from './evaluate.ts';
import { generateTrace } from './generate.ts';
import { loadPriceTables } from './prices.ts';
import type { Policy } from './simulate.ts';

describe('evaluation harness', () => {
  it('ranks the built-in policies, an added one and the optimum on one trace', async () => {
    const rules = awsBillingRules((await loadPriceTables()).aws);
    const trace = generateTrace({ seed: 21, objects: 150, days: 120 });
    // "Rules alone"-style policy: IA after 45 idle days.
    const idle45: Policy = {
      name: 'idle-45',
      decide: (s, h, day) => (day - (h.lastReadDay ?? s.createdDay) > 45 && s.size >= 128 * 1024 ? 'STANDARD_IA' : 'STANDARD'),
    };
    const rows = evaluate(rules, trace, [idle45]);
    expect(rows.map((r) => r.name)).toEqual(['always-hot', 'lifecycle-30/90', 'intelligent-tiering', 'idle-45', 'optimum']);
    const optimum = rows.at(-1)!;
    for (const r of rows) {
      expect(r.total).toBeGreaterThanOrEqual(optimum.total - 1e-9);
      expect(r.overOptimum).toBeCloseTo(r.total / optimum.total - 1, 12);
      expect(Object.keys(r.decisions)).toHaveLength(150);
    }
  });
});

/**
 * The evaluation harness: on one trace, the total cost of each policy and of the offline
 * optimum, with every decision kept, plus each policy's distance from the optimum. The product's
 * model policy is evaluated by passing it beside the built-in ones.
 */
import type { BillingRules } from './billing.ts';
import type { Decisions } from './optimum.ts';
import { optimizeTrace } from './optimum.ts';
import type { Policy } from './simulate.ts';
import { builtinPolicies, simulate } from './simulate.ts';
import type { Trace } from './trace.ts';

export interface EvaluationRow {
  readonly name: string;
  readonly total: number;
  /** total / optimum − 1 (0 for the optimum itself). */
  readonly overOptimum: number;
  readonly decisions: Decisions;
}

export function evaluate(rules: BillingRules, trace: Trace, extra: readonly Policy[] = []): EvaluationRow[] {
  const optimum = optimizeTrace(rules, trace);
  const rows: EvaluationRow[] = [...builtinPolicies(rules), ...extra].map((p) => {
    const r = simulate(rules, trace, p);
    return { name: r.policy, total: r.total, overOptimum: optimum.total > 0 ? r.total / optimum.total - 1 : 0, decisions: r.decisions };
  });
  rows.push({ name: 'optimum', total: optimum.total, overOptimum: 0, decisions: optimum.decisions });
  return rows;
}

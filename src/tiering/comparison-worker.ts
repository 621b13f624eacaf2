/**
 * The policy comparison's simulation, in a worker thread (started by comparison.ts): on a trace
 * of a few thousand copies the model + rules policy alone takes seconds of CPU (a prediction per
 * copy and day), which must not stall the API's event loop. Input and output are plain data.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { awsBillingRules } from './billing.ts';
import { evaluate } from './evaluate.ts';
import { tierModelFromJSON } from './model/index.ts';
import { modelRulesPolicy, rulesPolicy } from './policies.ts';
import type { PriceTable } from './prices.ts';
import type { Trace } from './trace.ts';

export interface ComparisonInput {
  readonly trace: Trace;
  readonly table: PriceTable;
  /** The tier model's `toJSON()`, or null for rules alone. */
  readonly model: unknown;
}

export interface ComparisonRow {
  readonly name: string;
  readonly total: number;
  readonly overOptimum: number;
}

export function compare(input: ComparisonInput): ComparisonRow[] {
  const { trace, table, model } = input;
  const ours = [rulesPolicy(table), ...(model === null ? [] : [modelRulesPolicy(tierModelFromJSON(model), table)])];
  return evaluate(awsBillingRules(table), trace, ours).map((r) => ({ name: r.name, total: r.total, overOptimum: r.overOptimum }));
}

if (parentPort !== null && (workerData as { comparison?: unknown } | null)?.comparison !== undefined) {
  parentPort.postMessage(compare((workerData as { comparison: ComparisonInput }).comparison));
}

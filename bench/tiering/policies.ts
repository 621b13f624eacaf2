/**
 * Tiering policies' cost on held-out generated traces (AWS list prices), side by side in one
 * run: always-hot, lifecycle 30/90, S3 Intelligent-Tiering, our rules alone, our model + rules
 * (the default model shipped with the project, trained on seed 7: never on the evaluated
 * traces) and the offline optimum; each policy's ratio over the optimum and the targets
 * (model + rules ≤ 1.05 × optimum and cheaper than the three rule policies).
 *
 * Also the recommendation time for `files` (100,000) files: features, the model's prediction
 * and the rules per file, in process (the product's per-file work without the database).
 *
 * Run alone: `npx node bench/tiering/policies.ts [--quick]`.
 */
import { parseArgs } from 'node:util';
import { awsBillingRules } from '../../src/tiering/billing.ts';
import { evaluate } from '../../src/tiering/evaluate.ts';
import { generateTrace } from '../../src/tiering/generate.ts';
import { featureVector } from '../../src/tiering/model/features.ts';
import { modelRulesPolicy, rulesPolicy } from '../../src/tiering/policies.ts';
import { loadPriceTables } from '../../src/tiering/prices.ts';
import { applyRules } from '../../src/tiering/rules.ts';
import { loadDefaultModel } from '../../src/tiering/service.ts';
import { traceFeatures } from '../../src/tiering/trace-features.ts';
import { table } from '../lib/table.ts';

export interface PolicyBenchRow {
  readonly seed: number;
  readonly policy: string;
  readonly cost: number;
  readonly overOptimum: number;
  readonly verdict: string;
}

export interface PolicyBenchResult {
  readonly rows: PolicyBenchRow[];
  readonly recommendation: { readonly files: number; readonly seconds: number; readonly target: string };
}

export async function runPolicyBench(log: (line: string) => void, options: { readonly seeds?: readonly number[]; readonly objects?: number; readonly files?: number } = {}): Promise<PolicyBenchResult> {
  const tables = await loadPriceTables();
  const rules = awsBillingRules(tables.aws);
  const model = await loadDefaultModel();
  if (model === undefined) throw new Error('no default model (src/tiering/model/default-model.json)');
  const rows: PolicyBenchRow[] = [];
  for (const seed of options.seeds ?? [2026, 2027]) {
    log(`policies on seed ${seed}`);
    const trace = generateTrace({ seed, objects: options.objects ?? 2000, days: 365 });
    const result = evaluate(rules, trace, [rulesPolicy(tables.aws), modelRulesPolicy(model, tables.aws)]);
    const ours = result.find((r) => r.name === 'model+rules')!;
    const others = result.filter((r) => ['always-hot', 'lifecycle-30/90', 'intelligent-tiering'].includes(r.name));
    for (const r of result) {
      const verdict =
        r.name === 'model+rules' ? `${r.overOptimum <= 0.05 ? 'PASS' : 'FAIL'} ≤1.05×; ${others.every((o) => ours.total < o.total) ? 'PASS' : 'FAIL'} cheaper than the rule policies` : '';
      rows.push({ seed, policy: r.name, cost: Number(r.total.toFixed(2)), overOptimum: Number((1 + r.overOptimum).toFixed(3)), verdict });
    }
  }
  const files = options.files ?? 100_000;
  const trace = generateTrace({ seed: 99, objects: Math.min(files, 20_000), days: 120 });
  log(`recommendations for ${files} files`);
  const started = performance.now();
  let changes = 0;
  for (let i = 0; i < files; i += 1) {
    const o = trace.objects[i % trace.objects.length]!;
    const f = traceFeatures({ size: o.size, createdDay: o.createdDay, reads: o.reads, day: trace.days, current: 'STANDARD', daysInClass: trace.days - o.createdDay, table: tables.aws });
    const p = model.predict(featureVector(f));
    const d = applyRules({ size: o.size, table: tables.aws, current: f.currentTier, daysInTier: f.daysInTier, proposed: p.tier, confidence: p.probabilities[p.tier], readsPerMonth: f.reads[2], latencySpikes: 0 });
    if (d.tier !== f.currentTier) changes += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  log(`${changes} of ${files} would change`);
  return { rows, recommendation: { files, seconds: Number(seconds.toFixed(2)), target: seconds < 10 ? 'PASS < 10 s' : 'FAIL < 10 s' } };
}

export function printPolicyBench(result: PolicyBenchResult): void {
  console.log('\nTiering policies on held-out traces (2,000 objects, 365 days, AWS list prices; ratio = cost / offline optimum)');
  console.log(table(['seed', 'policy', 'cost USD', '× optimum', 'target'], result.rows.map((r) => [r.seed, r.policy, r.cost, r.overOptimum, r.verdict])));
  console.log(`\nRecommendations (features + model + rules) for ${result.recommendation.files} files: ${result.recommendation.seconds} s (${result.recommendation.target})`);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
  const result = await runPolicyBench((line) => console.error(`bench: ${line}`), values.quick === true ? { seeds: [2026], objects: 500, files: 20_000 } : {});
  printPolicyBench(result);
}

/**
 * The policy comparison the dashboard's Tiering page shows (GET /tiering/policies): over the
 * stored access statistics (each committed copy's last 90 days of reads, `traceOfStats`), the
 * cost of our model + rules and rules alone against always-hot, the 30/90-day lifecycle rule,
 * S3 Intelligent-Tiering and the offline optimum, with the simulator and AWS list prices of
 * `movingdata tier simulate` (src/cli/commands/tier.ts).
 *
 * Bounded: at most `maxFiles` copies (a sample in key order per location), so one request's
 * work is at most maxFiles × 90 days per policy.
 */
import { awsBillingRules } from './billing.ts';
import { evaluate } from './evaluate.ts';
import { modelRulesPolicy, rulesPolicy } from './policies.ts';
import type { TieringService } from './service.ts';
import { traceOfStats } from './train.ts';
import type { MetadataStore } from '../metadata/index.ts';
import { DAYS_PER_MONTH } from './cost.ts';

export const MAX_COMPARISON_FILES = 5000;

export interface PolicyCost {
  readonly name: string;
  readonly label: string;
  /** Ours (model + rules, rules alone), a baseline, or the offline optimum. */
  readonly kind: 'ours' | 'baseline' | 'optimum';
  /** USD over the trace's days. */
  readonly total: number;
  /** USD a month at the trace's average rate. */
  readonly monthly: number;
  /** total / optimum − 1. */
  readonly over_optimum: number;
}

export interface PolicyComparison {
  readonly currency: 'USD';
  readonly prices: string;
  readonly days: number;
  readonly files: number;
  readonly bytes: number;
  /** More committed copies exist than were compared (the sample's bound). */
  readonly truncated: boolean;
  readonly model: { readonly source: 'trained' | 'default' | 'none'; readonly version: number | null };
  readonly policies: readonly PolicyCost[];
  /** The cheapest policy other than the optimum. */
  readonly cheapest: string | null;
  readonly elapsed_ms: number;
}

const LABELS: Readonly<Record<string, { label: string; kind: PolicyCost['kind'] }>> = {
  'model+rules': { label: 'Ours: model + rules', kind: 'ours' },
  rules: { label: 'Ours: rules alone', kind: 'ours' },
  'always-hot': { label: 'Always hot', kind: 'baseline' },
  'lifecycle-30/90': { label: 'Lifecycle 30/90 days', kind: 'baseline' },
  'intelligent-tiering': { label: 'S3 Intelligent-Tiering', kind: 'baseline' },
  optimum: { label: 'Offline optimum (hindsight)', kind: 'optimum' },
};
const ORDER = ['model+rules', 'rules', 'always-hot', 'lifecycle-30/90', 'intelligent-tiering', 'optimum'];

export async function comparePolicies(deps: { readonly metadata: MetadataStore; readonly tiering: TieringService }, options: { readonly maxFiles: number; readonly asOf?: Date }): Promise<PolicyComparison> {
  const started = performance.now();
  // One more than asked: whether the sample left copies out.
  const trace = await traceOfStats(deps.metadata, deps.tiering, options.asOf ?? new Date(), options.maxFiles + 1);
  const truncated = trace.objects.length > options.maxFiles;
  const sample = truncated ? { ...trace, objects: trace.objects.slice(0, options.maxFiles) } : trace;
  const table = deps.tiering.prices.aws;
  const active = await deps.tiering.activeModel();
  const ours = [rulesPolicy(table), ...(active === undefined ? [] : [modelRulesPolicy(active.model, table)])];
  const rows = sample.objects.length === 0 ? [] : evaluate(awsBillingRules(table), sample, ours);
  const policies = rows
    .map((r) => ({
      name: r.name,
      label: LABELS[r.name]?.label ?? r.name,
      kind: LABELS[r.name]?.kind ?? 'baseline',
      total: r.total,
      monthly: sample.days > 0 ? (r.total / sample.days) * DAYS_PER_MONTH : 0,
      over_optimum: r.overOptimum,
    }))
    .sort((a, b) => (ORDER.indexOf(a.name) + 1 || 99) - (ORDER.indexOf(b.name) + 1 || 99));
  const cheapest = policies.filter((p) => p.kind !== 'optimum').sort((a, b) => a.total - b.total)[0]?.name ?? null;
  return {
    currency: 'USD',
    prices: 'AWS us-east-1 list prices',
    days: sample.days,
    files: sample.objects.length,
    bytes: sample.objects.reduce((s, o) => s + o.size, 0),
    truncated,
    model: { source: active === undefined ? 'none' : active.version === null ? 'default' : 'trained', version: active?.version ?? null },
    policies,
    cheapest,
    elapsed_ms: Math.round(performance.now() - started),
  };
}

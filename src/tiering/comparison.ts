/**
 * The policy comparison the dashboard's Tiering page shows (GET /tiering/policies): over the
 * stored access statistics (each committed copy's last 90 days of reads, `traceOfStats`), the
 * cost of our model + rules and rules alone against always-hot, the 30/90-day lifecycle rule,
 * S3 Intelligent-Tiering and the offline optimum, with the simulator and AWS list prices of
 * `movingdata tier simulate` (src/cli/commands/tier.ts).
 *
 * Bounded: at most `maxFiles` copies (a sample: an equal share from each location, in key
 * order), simulated in a worker thread (comparison-worker.ts: the model's predictions take
 * seconds of CPU for a few thousand copies) that is stopped after 60 s (503 unavailable). A comparison is kept for 30 s per
 * (maxFiles, model), and asking again meanwhile joins the one under way: a page that reloads
 * does not start another.
 */
import { Worker } from 'node:worker_threads';
import { MovingDataError } from '../errors.ts';
import type { MetadataStore } from '../metadata/index.ts';
import type { ComparisonInput, ComparisonRow } from './comparison-worker.ts';
import { DAYS_PER_MONTH } from './cost.ts';
import type { TieringService } from './service.ts';
import { traceOfStats } from './train.ts';

const WORKER = new URL('./comparison-worker.ts', import.meta.url);
const WORKER_TIMEOUT_MS = 60_000;
const KEEP_MS = 30_000;

export const MAX_COMPARISON_FILES = 2000;
export const DEFAULT_COMPARISON_FILES = 500;

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

/** The simulation in a worker thread, stopped after `timeoutMs`. */
export function compareInWorker(input: ComparisonInput, timeoutMs = WORKER_TIMEOUT_MS): Promise<ComparisonRow[]> {
  return new Promise((resolve, reject) => {
    // No execArgv of the parent's (V8 flags such as --expose-gc are refused in a worker).
    const worker = new Worker(WORKER, { workerData: { comparison: input }, execArgv: [] });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      void worker.terminate();
    };
    const timer = setTimeout(
      () => settle(() => reject(new MovingDataError('unavailable', `the policy comparison took longer than ${timeoutMs / 1000} s; ask for fewer files (max_files)`, { retryable: true }))),
      timeoutMs,
    );
    worker.once('message', (rows: ComparisonRow[]) => settle(() => resolve(rows)));
    worker.once('error', (err: Error) => settle(() => reject(new MovingDataError('internal', `the policy comparison failed: ${err.message}`, { retryable: false, cause: err }))));
    worker.once('exit', (code) => settle(() => reject(new MovingDataError('internal', `the policy comparison's worker exited (${code}) without an answer`, { retryable: false }))));
  });
}

type Kept = Map<string, { readonly at: number; readonly result: Promise<PolicyComparison> }>;
/** Per tiering service (one per app): two apps in a process never share an answer. */
const kept = new WeakMap<TieringService, Kept>();

export async function comparePolicies(deps: { readonly metadata: MetadataStore; readonly tiering: TieringService }, options: { readonly maxFiles: number; readonly asOf?: Date }): Promise<PolicyComparison> {
  const active = await deps.tiering.activeModel();
  const key = `${options.maxFiles}|${active === undefined ? 'none' : (active.version ?? 'default')}|${options.asOf?.toISOString() ?? ''}`;
  let recent = kept.get(deps.tiering);
  if (recent === undefined) kept.set(deps.tiering, (recent = new Map() as Kept));
  const now = Date.now();
  for (const [k, v] of recent) if (now - v.at > KEEP_MS) recent.delete(k);
  const earlier = recent.get(key);
  if (earlier !== undefined) return earlier.result;
  const result = computeComparison(deps, options, active);
  recent.set(key, { at: now, result });
  // A failure is not kept: the next request tries again.
  result.catch(() => recent.delete(key));
  return result;
}

async function computeComparison(
  deps: { readonly metadata: MetadataStore; readonly tiering: TieringService },
  options: { readonly maxFiles: number; readonly asOf?: Date },
  active: Awaited<ReturnType<TieringService['activeModel']>>,
): Promise<PolicyComparison> {
  const started = performance.now();
  // A share of the sample per location, and one more from each: whether the sample left copies out.
  const locations = deps.tiering.locations;
  const quota = Math.ceil(options.maxFiles / Math.max(1, locations.length));
  const trace = await traceOfStats(deps.metadata, deps.tiering, options.asOf ?? new Date(), (quota + 1) * locations.length, quota + 1);
  const byLocation = new Map<string, typeof trace.objects>(locations.map((l) => [l, trace.objects.filter((o) => o.key.startsWith(`${l}/`))]));
  const truncated = [...byLocation.values()].some((objects) => objects.length > quota) || [...byLocation.values()].reduce((n, o) => n + Math.min(o.length, quota), 0) > options.maxFiles;
  const sample = { ...trace, objects: [...byLocation.values()].flatMap((objects) => objects.slice(0, quota)).slice(0, options.maxFiles) };
  const rows = sample.objects.length === 0 ? [] : await compareInWorker({ trace: sample, table: deps.tiering.prices.aws, model: active === undefined ? null : active.model.toJSON() });
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

/**
 * What is known of an object online, from a trace: the model's `FileFeatures` at decision day d
 * computed from the object's reads before d only (a read of day d or later is ignored even when
 * it is in the list passed), its size, its creation day and the class it is in.
 *
 * Traces have no writes after creation and no latencies: days since last write = age, latency
 * unknown (null) with no spikes. Bytes read = reads × size (whole-object GETs). `costNow` is the
 * monthly cost at the current tier with the last 30 days' reads (rules.ts's `dailyCost` × 30).
 */
import type { FileFeatures, Tier } from './model/features.ts';
import type { SimClass } from './billing.ts';
import { DAYS_PER_MONTH } from './cost.ts';
import type { PriceTable } from './prices.ts';
import { dailyCost } from './rules.ts';
import type { ReadDay } from './trace.ts';

/** Simulator class → our tier (STANDARD → hot, STANDARD_IA → cool, GLACIER_IR → cold). */
export const SIM_TO_TIER: Readonly<Record<SimClass, Tier>> = Object.freeze({ STANDARD: 'hot', STANDARD_IA: 'cool', GLACIER_IR: 'cold' });
/** Our tier → simulator class (AWS: hot STANDARD, cool STANDARD_IA, cold GLACIER_IR). */
export const TIER_TO_SIM: Readonly<Record<Tier, SimClass>> = Object.freeze({ hot: 'STANDARD', cool: 'STANDARD_IA', cold: 'GLACIER_IR' });

/** Trailing windows of the read counts, in days (FileFeatures.reads order). */
export const WINDOWS = [1, 7, 30, 90] as const;

export interface TraceFeatureInput {
  readonly size: number;
  readonly createdDay: number;
  /** The object's reads `[day, count]` in day order; only those before `day` are used. */
  readonly reads: readonly ReadDay[];
  /** The decision day. */
  readonly day: number;
  /** Class the object is in (the previous day's); null on its creation day (counts as hot, 0 days). */
  readonly current: SimClass | null;
  readonly daysInClass: number;
  /** Prices of `costNow` (the trace's provider). */
  readonly table: PriceTable;
}

/** Index of the first read of `day` or later (binary search: reads are in day order). */
export function firstReadFrom(reads: readonly ReadDay[], day: number): number {
  let lo = 0;
  let hi = reads.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (reads[mid]![0] < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function traceFeatures(input: TraceFeatureInput): FileFeatures {
  const { size, day, reads } = input;
  const end = firstReadFrom(reads, day);
  const counts: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = end - 1; i >= 0; i -= 1) {
    const [d, c] = reads[i]!;
    const ago = day - d;
    if (ago > WINDOWS[3]) break;
    for (let w = 0; w < WINDOWS.length; w += 1) if (ago <= WINDOWS[w]!) counts[w]! += c;
  }
  const last = end > 0 ? reads[end - 1]![0] : null;
  const age = day - input.createdDay;
  const currentTier = input.current === null ? 'hot' : SIM_TO_TIER[input.current];
  return {
    reads: counts,
    bytesRead: [counts[0] * size, counts[1] * size, counts[2] * size, counts[3] * size],
    daysSinceLastRead: last === null ? null : day - last,
    daysSinceLastWrite: age,
    ageDays: age,
    size,
    currentTier,
    daysInTier: input.current === null ? 0 : input.daysInClass,
    meanReadLatencyMs: null,
    latencySpikes: 0,
    costNow: dailyCost(input.table, currentTier, size, counts[2]) * DAYS_PER_MONTH,
  };
}

/**
 * The tiering model's vocabulary: the tiers it can recommend and the per-file feature vector the
 * integrator fills (`number[]` in FEATURE_NAMES order; NaN = missing, e.g. a file never read has
 * no "days since last read").
 *
 * - Counts and bytes are over trailing windows ending now (1, 7, 30, 90 days).
 * - `log_size_bytes` is log2(1 + size in bytes); `current_tier` is the ordinal of TIER_ORDER
 *   (hot 0, cool 1, cold 2, archive 3).
 * - `cost_now` is the file's cost per month at its current tier (storage + reads), in the
 *   account's currency.
 * Trees only compare values with thresholds, so units and scales matter only to the centroid
 * fallback, which standardises each feature anyway.
 */

/** Tiers the model recommends; `archive` is never recommended automatically. */
export const TIERS = ['hot', 'cool', 'cold'] as const;
export type Tier = (typeof TIERS)[number];

/** Every storage tier, in order of falling cost of storage; the ordinal of `current_tier`. */
export const TIER_ORDER = ['hot', 'cool', 'cold', 'archive'] as const;

export const FEATURE_NAMES = [
  'reads_1d',
  'reads_7d',
  'reads_30d',
  'reads_90d',
  'bytes_read_1d',
  'bytes_read_7d',
  'bytes_read_30d',
  'bytes_read_90d',
  'days_since_last_read',
  'days_since_last_write',
  'age_days',
  'log_size_bytes',
  'current_tier',
  'days_in_current_tier',
  'mean_read_latency_ms',
  'latency_spike_count',
  'cost_now',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** Index of each feature in the vector. */
export const FEATURE_INDEX: Readonly<Record<FeatureName, number>> = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, i])) as Record<FeatureName, number>;

/** A labelled training record: the features of a file and the tier it should have been in. */
export interface TierRecord {
  readonly features: readonly number[];
  /** One of TIERS; `archive` counts as `cold` (the coldest tier recommended automatically). */
  readonly label: string;
  /** How much the record counts in training (≥ 0; default 1), e.g. what a wrong tier would cost. */
  readonly weight?: number;
}

/** The class index of a label (archive → cold); throws on anything else. */
export function tierIndex(label: string): number {
  const i = (TIERS as readonly string[]).indexOf(label === 'archive' ? 'cold' : label);
  if (i < 0) throw new Error(`tier model: unknown tier label '${label}' (expected ${TIERS.join(', ')} or archive)`);
  return i;
}

/** What is known of one file at decision time, from the access statistics (product) or a trace's past (simulator). */
export interface FileFeatures {
  /** Reads over the last 1, 7, 30 and 90 days. */
  readonly reads: readonly [number, number, number, number];
  readonly bytesRead: readonly [number, number, number, number];
  readonly daysSinceLastRead: number | null;
  readonly daysSinceLastWrite: number | null;
  readonly ageDays: number;
  readonly size: number;
  readonly currentTier: (typeof TIER_ORDER)[number];
  readonly daysInTier: number;
  readonly meanReadLatencyMs: number | null;
  readonly latencySpikes: number;
  /** Cost per month at the current tier (storage + reads at the 30-day rate). */
  readonly costNow: number;
}

/** The model's input vector for a file, in FEATURE_NAMES order (NaN where unknown). */
export function featureVector(f: FileFeatures): number[] {
  const v = new Array<number>(FEATURE_NAMES.length);
  const set = (name: FeatureName, value: number | null): void => {
    v[FEATURE_INDEX[name]] = value ?? Number.NaN;
  };
  set('reads_1d', f.reads[0]);
  set('reads_7d', f.reads[1]);
  set('reads_30d', f.reads[2]);
  set('reads_90d', f.reads[3]);
  set('bytes_read_1d', f.bytesRead[0]);
  set('bytes_read_7d', f.bytesRead[1]);
  set('bytes_read_30d', f.bytesRead[2]);
  set('bytes_read_90d', f.bytesRead[3]);
  set('days_since_last_read', f.daysSinceLastRead);
  set('days_since_last_write', f.daysSinceLastWrite);
  set('age_days', f.ageDays);
  set('log_size_bytes', Math.log2(1 + f.size));
  set('current_tier', TIER_ORDER.indexOf(f.currentTier));
  set('days_in_current_tier', f.daysInTier);
  set('mean_read_latency_ms', f.meanReadLatencyMs);
  set('latency_spike_count', f.latencySpikes);
  set('cost_now', f.costNow);
  return v;
}

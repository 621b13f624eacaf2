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
}

/** The class index of a label (archive → cold); throws on anything else. */
export function tierIndex(label: string): number {
  const i = (TIERS as readonly string[]).indexOf(label === 'archive' ? 'cold' : label);
  if (i < 0) throw new Error(`tier model: unknown tier label '${label}' (expected ${TIERS.join(', ')} or archive)`);
  return i;
}

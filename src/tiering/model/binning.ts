/**
 * Feature binning for the histogram GBDT (gbdt.ts), after scikit-learn's `_BinMapper`: each
 * feature's non-missing values go into at most `maxBins` (≤ 255) bins with edges at quantiles,
 * and missing values (NaN) into one more bin, MISSING_BIN (255), whatever the feature.
 *
 * - Few distinct values (≤ maxBins): the edges are the midpoints between consecutive distinct
 *   values, so every distinct value has a bin of its own.
 * - Otherwise: edges at the percentiles 100·i/maxBins (i = 1 … maxBins − 1) by the averaged
 *   inverted CDF (scikit-learn ≥ 1.6: the order statistic at ⌈n·q⌉, or the mean of the two
 *   around n·q when it is whole), duplicate edges dropped. More than `subsample` rows (200,000): quantiles of a seeded random subset.
 * - A value x goes to bin b when edge[b − 1] < x ≤ edge[b]; edges are clipped to ±1e300 so only
 *   a split "on missing" has an infinite threshold.
 */
import { mulberry32 } from '../../random.ts';

/** The bin of missing values, in every feature. */
export const MISSING_BIN = 255;
export const MAX_BINS = 255;
const ALMOST_INF = 1e300;

/** Bin edges of one feature from its values (NaN ignored). */
export function binEdges(values: ArrayLike<number>, maxBins: number = MAX_BINS): Float64Array {
  if (!(maxBins >= 2 && maxBins <= MAX_BINS)) throw new Error(`binning: maxBins must be in [2, ${MAX_BINS}], got ${maxBins}`);
  const present: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) present.push(v);
  }
  const sorted = Float64Array.from(present).sort();
  let distinct = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[distinct++] = sorted[i]!;
  let edges: Float64Array;
  if (distinct <= maxBins) {
    edges = new Float64Array(Math.max(0, distinct - 1));
    for (let i = 0; i + 1 < distinct; i++) edges[i] = (sorted[i]! + sorted[i + 1]!) * 0.5;
  } else {
    // Percentiles of the full sorted sample (duplicates included), so sort again.
    const all = Float64Array.from(present).sort();
    const n = all.length;
    const out: number[] = [];
    for (let i = 1; i < maxBins; i++) {
      // NumPy's arithmetic, so a "whole" n·q is whole exactly when it is for NumPy.
      const q = (i * (100 / maxBins)) / 100;
      const virtual = n * q - 1;
      const previous = Math.floor(virtual);
      const lo = Math.min(n - 1, Math.max(0, previous));
      const hi = Math.min(n - 1, Math.max(0, previous + 1));
      const edge = virtual === previous ? (all[lo]! + all[hi]!) * 0.5 : all[hi]!;
      if (out.length === 0 || edge !== out[out.length - 1]) out.push(edge);
    }
    edges = Float64Array.from(out);
  }
  for (let i = 0; i < edges.length; i++) if (edges[i]! > ALMOST_INF) edges[i] = ALMOST_INF;
  return edges;
}

/** The bin of a value: the number of edges below it (MISSING_BIN for NaN). */
export function binOf(edges: Float64Array, value: number): number {
  if (Number.isNaN(value)) return MISSING_BIN;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A fitted binning of every feature. */
export interface BinMapper {
  /** Per feature, the bin edges (bins of non-missing values = edges.length + 1). */
  readonly edges: readonly Float64Array[];
  /** Per feature, whether NaN occurred in the data the mapper was fitted on. */
  readonly hasMissing: readonly boolean[];
}

/** Fits bin edges on row-major rows (each of nFeatures values). */
export function fitBinMapper(rows: readonly (readonly number[])[], nFeatures: number, options: { maxBins?: number; subsample?: number; seed?: number } = {}): BinMapper {
  const maxBins = options.maxBins ?? MAX_BINS;
  const subsample = options.subsample ?? 200_000;
  let sample: readonly (readonly number[])[] = rows;
  if (rows.length > subsample) {
    // Partial Fisher–Yates: the first `subsample` of a seeded shuffle.
    const random = mulberry32(options.seed ?? 0);
    const order = Uint32Array.from({ length: rows.length }, (_, i) => i);
    for (let i = 0; i < subsample; i++) {
      const j = i + Math.floor(random() * (rows.length - i));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    sample = Array.from(order.subarray(0, subsample), (i) => rows[i]!);
  }
  const edges: Float64Array[] = [];
  const hasMissing: boolean[] = [];
  const column = new Float64Array(sample.length);
  for (let f = 0; f < nFeatures; f++) {
    for (let i = 0; i < sample.length; i++) column[i] = sample[i]![f] ?? Number.NaN;
    edges.push(binEdges(column, maxBins));
    let missing = false;
    for (const row of rows) if (Number.isNaN(row[f] ?? Number.NaN)) { missing = true; break; }
    hasMissing.push(missing);
  }
  return { edges, hasMissing };
}

/** Bins rows into a column-major Uint8Array: bin of row i, feature f at f·n + i. */
export function binRows(mapper: BinMapper, rows: readonly (readonly number[])[]): Uint8Array {
  const n = rows.length;
  const out = new Uint8Array(mapper.edges.length * n);
  for (let f = 0; f < mapper.edges.length; f++) {
    const edges = mapper.edges[f]!;
    for (let i = 0; i < n; i++) out[f * n + i] = binOf(edges, rows[i]![f] ?? Number.NaN);
  }
  return out;
}

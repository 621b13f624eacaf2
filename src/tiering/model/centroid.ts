/**
 * Nearest-centroid classifier, the tier model's fallback when there is too little to fit trees
 * on (few records, or a tier absent from the labels): each feature is first compressed by the
 * signed log, sign(x)·ln(1 + |x|) (counts and bytes are heavy-tailed: without it one huge file
 * dominates every distance; 0.47 → 0.67 accuracy on the bench's data), then standardised with
 * the training mean and standard deviation (a constant feature gets scale 1; NaN = the mean, i.e.
 * 0 after standardising), each class present in training has the mean of its standardised
 * rows as centroid, and the class probabilities are a softmax over minus the Euclidean
 * distances to the centroids (0 for a class with no centroid).
 */
export interface CentroidModel {
  readonly nClasses: number;
  /** Per feature, mean and standard deviation of the signed log of the training values. */
  readonly means: readonly number[];
  readonly scales: readonly number[];
  /** Per class, its centroid in standardised space, or null when it had no rows. */
  readonly centroids: readonly (readonly number[] | null)[];
}

function compress(v: number): number {
  return Math.sign(v) * Math.log1p(Math.abs(v));
}

function standardise(model: Pick<CentroidModel, 'means' | 'scales'>, x: ArrayLike<number>, out: Float64Array): Float64Array {
  for (let f = 0; f < out.length; f++) {
    const v = x[f]!;
    out[f] = v === undefined || Number.isNaN(v) ? 0 : (compress(v) - model.means[f]!) / model.scales[f]!;
  }
  return out;
}

/** Fits centroids on rows (NaN = missing) and class indices y in [0, nClasses). */
export function trainCentroid(rows: readonly (readonly number[])[], y: ArrayLike<number>, nClasses: number): CentroidModel {
  if (rows.length === 0) throw new Error('centroid: no training rows');
  const nFeatures = rows[0]!.length;
  const means: number[] = [];
  const scales: number[] = [];
  for (let f = 0; f < nFeatures; f++) {
    let n = 0;
    let sum = 0;
    for (const row of rows) {
      const v = compress(row[f]!);
      if (!Number.isNaN(v)) {
        n += 1;
        sum += v;
      }
    }
    const mean = n > 0 ? sum / n : 0;
    let squares = 0;
    for (const row of rows) {
      const v = compress(row[f]!);
      if (!Number.isNaN(v)) squares += (v - mean) ** 2;
    }
    const sd = n > 0 ? Math.sqrt(squares / n) : 0;
    means.push(mean);
    scales.push(sd > 0 && Number.isFinite(sd) ? sd : 1);
  }
  const sums = Array.from({ length: nClasses }, () => new Float64Array(nFeatures));
  const counts = new Array<number>(nClasses).fill(0);
  const z = new Float64Array(nFeatures);
  for (let i = 0; i < rows.length; i++) {
    standardise({ means, scales }, rows[i]!, z);
    const k = y[i]!;
    counts[k]! += 1;
    for (let f = 0; f < nFeatures; f++) sums[k]![f]! += z[f]!;
  }
  const centroids = sums.map((s, k) => (counts[k]! > 0 ? Array.from(s, (v) => v / counts[k]!) : null));
  return { nClasses, means, scales, centroids };
}

/** Class probabilities: softmax over −distance to each centroid. */
export function centroidProba(model: CentroidModel, x: ArrayLike<number>): Float64Array {
  const z = standardise(model, x, new Float64Array(model.means.length));
  const scores = new Float64Array(model.nClasses).fill(Number.NEGATIVE_INFINITY);
  let max = Number.NEGATIVE_INFINITY;
  model.centroids.forEach((c, k) => {
    if (c === null) return;
    let d = 0;
    for (let f = 0; f < z.length; f++) d += (z[f]! - c[f]!) ** 2;
    scores[k] = -Math.sqrt(d);
    max = Math.max(max, scores[k]);
  });
  let sum = 0;
  for (let k = 0; k < scores.length; k++) {
    scores[k] = Number.isFinite(scores[k]!) ? Math.exp(scores[k]! - max) : 0;
    sum += scores[k]!;
  }
  for (let k = 0; k < scores.length; k++) scores[k]! /= sum;
  return scores;
}

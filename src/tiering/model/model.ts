/**
 * The tier model the product uses: `trainTierModel(records)` fits a histogram GBDT (gbdt.ts) on
 * per-file features (features.ts) labelled with the tier each file should have been in, or, when
 * there are too few records (< `minRecordsForGbdt`, default 50) or a tier is missing from the
 * labels, a nearest-centroid classifier (centroid.ts). `predict(features)` gives the tier, the
 * probability of each of hot, cool and cold (the confidence) and which kind of model spoke.
 *
 * Models are plain data: `toJSON()` gives a versioned document (TIER_MODEL_FORMAT,
 * TIER_MODEL_VERSION) that `tierModelFromJSON` turns back into a model predicting identically
 * (numbers round-trip exactly through JSON; +∞ thresholds are written as null). A document
 * whose feature names differ from today's FEATURE_NAMES is refused: retrain instead.
 * `evaluateTierModel` and `trainAndEvaluate` give accuracy, log loss and the confusion matrix
 * on held-out records.
 */
import { centroidProba, trainCentroid, type CentroidModel } from './centroid.ts';
import { FEATURE_NAMES, TIERS, tierIndex, type Tier, type TierRecord } from './features.ts';
import { gbdtProba, stratifiedSplit, trainGbdt, type GbdtModel, type GbdtOptions, type Tree } from './gbdt.ts';

export const TIER_MODEL_FORMAT = 'movingdata.tier-model';
export const TIER_MODEL_VERSION = 1;

export type TierModelKind = 'gbdt' | 'centroid';
export type TierProbabilities = Record<Tier, number>;

export interface TierPrediction {
  readonly tier: Tier;
  readonly probabilities: TierProbabilities;
  readonly kind: TierModelKind;
}

export interface TierModel {
  readonly kind: TierModelKind;
  /** Why the centroid fallback was used (undefined for a GBDT). */
  readonly fallbackReason: string | undefined;
  /** Records it was trained on. */
  readonly trainedOn: number;
  /** Boosting iterations (0 for the centroid model). */
  readonly iterations: number;
  predict(features: readonly number[]): TierPrediction;
  toJSON(): TierModelJSON;
}

export interface TrainTierModelOptions extends GbdtOptions {
  /** Fewer records than this fit the centroid model. Default 50. */
  readonly minRecordsForGbdt?: number;
}

interface TreeJSON {
  readonly feature: number[];
  /** null = +∞ (a split on missing or not). */
  readonly threshold: (number | null)[];
  readonly missingLeft: number[];
  readonly left: number[];
  readonly right: number[];
  readonly value: number[];
}

export interface TierModelJSON {
  readonly format: typeof TIER_MODEL_FORMAT;
  readonly version: typeof TIER_MODEL_VERSION;
  readonly kind: TierModelKind;
  readonly featureNames: readonly string[];
  readonly classes: readonly Tier[];
  readonly trainedOn: number;
  readonly fallbackReason?: string;
  readonly gbdt?: { readonly baseline: number[]; readonly trees: TreeJSON[][] };
  readonly centroid?: { readonly means: number[]; readonly scales: number[]; readonly centroids: (number[] | null)[] };
}

function checkFeatures(features: readonly number[]): void {
  if (features.length !== FEATURE_NAMES.length) throw new Error(`tier model: expected ${FEATURE_NAMES.length} features (FEATURE_NAMES), got ${features.length}`);
}

function toPrediction(p: Float64Array, kind: TierModelKind): TierPrediction {
  let best = 0;
  for (let k = 1; k < TIERS.length; k++) if (p[k]! > p[best]!) best = k;
  const probabilities = Object.fromEntries(TIERS.map((t, k) => [t, p[k]!])) as TierProbabilities;
  return { tier: TIERS[best]!, probabilities, kind };
}

function gbdtTierModel(model: GbdtModel, trainedOn: number): TierModel {
  return {
    kind: 'gbdt',
    fallbackReason: undefined,
    trainedOn,
    iterations: model.trees.length,
    predict: (features) => {
      checkFeatures(features);
      return toPrediction(gbdtProba(model, features), 'gbdt');
    },
    toJSON: () => ({
      format: TIER_MODEL_FORMAT,
      version: TIER_MODEL_VERSION,
      kind: 'gbdt',
      featureNames: [...FEATURE_NAMES],
      classes: [...TIERS],
      trainedOn,
      gbdt: {
        baseline: Array.from(model.baseline),
        trees: model.trees.map((round) =>
          round.map((t) => ({
            feature: Array.from(t.feature),
            threshold: Array.from(t.threshold, (v) => (v === Number.POSITIVE_INFINITY ? null : v)),
            missingLeft: Array.from(t.missingLeft),
            left: Array.from(t.left),
            right: Array.from(t.right),
            value: Array.from(t.value),
          })),
        ),
      },
    }),
  };
}

function centroidTierModel(model: CentroidModel, trainedOn: number, fallbackReason: string): TierModel {
  return {
    kind: 'centroid',
    fallbackReason,
    trainedOn,
    iterations: 0,
    predict: (features) => {
      checkFeatures(features);
      return toPrediction(centroidProba(model, features), 'centroid');
    },
    toJSON: () => ({
      format: TIER_MODEL_FORMAT,
      version: TIER_MODEL_VERSION,
      kind: 'centroid',
      featureNames: [...FEATURE_NAMES],
      classes: [...TIERS],
      trainedOn,
      fallbackReason,
      centroid: { means: [...model.means], scales: [...model.scales], centroids: model.centroids.map((c) => (c === null ? null : [...c])) },
    }),
  };
}

/** Fits a tier model on labelled records (labels: hot, cool, cold; archive counts as cold). */
export function trainTierModel(records: readonly TierRecord[], options: TrainTierModelOptions = {}): TierModel {
  if (records.length === 0) throw new Error('tier model: no training records');
  for (const r of records) checkFeatures(r.features);
  const rows = records.map((r) => r.features);
  const y = Int32Array.from(records, (r) => tierIndex(r.label));
  const counts = new Array<number>(TIERS.length).fill(0);
  for (const k of y) counts[k]! += 1;
  const missing = TIERS.filter((_, k) => counts[k] === 0);
  const minRecords = options.minRecordsForGbdt ?? 50;
  let reason: string | undefined;
  if (records.length < minRecords) reason = `${records.length} records, fewer than ${minRecords}`;
  else if (missing.length > 0) reason = `no records labelled ${missing.join(', ')}`;
  if (reason !== undefined) return centroidTierModel(trainCentroid(rows, y, TIERS.length), records.length, reason);
  const weighted = records.some((r) => r.weight !== undefined);
  const weights = weighted ? Float64Array.from(records, (r) => r.weight ?? 1) : undefined;
  return gbdtTierModel(trainGbdt(rows, y, TIERS.length, options, weights), records.length);
}

function isNumberArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
}

function treeFromJSON(t: unknown): Tree {
  const o = t as Partial<Record<keyof TreeJSON, unknown>>;
  const { feature, missingLeft, left, right, value, threshold } = o;
  if (!isNumberArray(feature) || !isNumberArray(missingLeft) || !isNumberArray(left) || !isNumberArray(right) || !isNumberArray(value) || !Array.isArray(threshold)) {
    throw new Error('tier model: malformed tree');
  }
  const n = feature.length;
  if ([threshold, missingLeft, left, right, value].some((a) => a.length !== n)) throw new Error('tier model: malformed tree');
  for (let i = 0; i < n; i++) {
    const l = left[i]!;
    const r = right[i]!;
    if (l >= 0 && (l <= i || l >= n || r <= i || r >= n || feature[i]! < 0 || feature[i]! >= FEATURE_NAMES.length)) throw new Error('tier model: malformed tree');
  }
  return {
    feature: Int32Array.from(feature),
    threshold: Float64Array.from(threshold, (v) => (v === null ? Number.POSITIVE_INFINITY : typeof v === 'number' ? v : Number.NaN)),
    missingLeft: Uint8Array.from(missingLeft),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    value: Float64Array.from(value),
  };
}

/** The model a `toJSON()` document describes (parsed JSON accepted as unknown and checked). */
export function tierModelFromJSON(json: unknown): TierModel {
  const doc = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<TierModelJSON> | null;
  if (doc === null || typeof doc !== 'object' || doc.format !== TIER_MODEL_FORMAT) throw new Error('tier model: not a tier model document');
  if (doc.version !== TIER_MODEL_VERSION) throw new Error(`tier model: version ${String(doc.version)} is not ${TIER_MODEL_VERSION}`);
  if (!Array.isArray(doc.featureNames) || doc.featureNames.join(',') !== FEATURE_NAMES.join(',')) throw new Error('tier model: trained on other features than FEATURE_NAMES; retrain');
  if (!Array.isArray(doc.classes) || doc.classes.join(',') !== TIERS.join(',')) throw new Error('tier model: trained on other classes than TIERS; retrain');
  const trainedOn = typeof doc.trainedOn === 'number' ? doc.trainedOn : 0;
  if (doc.kind === 'gbdt' && doc.gbdt !== undefined) {
    const { baseline, trees } = doc.gbdt;
    if (!isNumberArray(baseline) || baseline.length !== TIERS.length || !Array.isArray(trees)) throw new Error('tier model: malformed gbdt');
    const parsed = trees.map((round) => {
      if (!Array.isArray(round) || round.length !== TIERS.length) throw new Error('tier model: malformed gbdt');
      return round.map(treeFromJSON);
    });
    return gbdtTierModel({ nClasses: TIERS.length, nFeatures: FEATURE_NAMES.length, baseline: Float64Array.from(baseline), trees: parsed }, trainedOn);
  }
  if (doc.kind === 'centroid' && doc.centroid !== undefined) {
    const { means, scales, centroids } = doc.centroid;
    const ok =
      isNumberArray(means) &&
      isNumberArray(scales) &&
      means.length === FEATURE_NAMES.length &&
      scales.length === FEATURE_NAMES.length &&
      Array.isArray(centroids) &&
      centroids.length === TIERS.length &&
      centroids.every((c) => c === null || (isNumberArray(c) && c.length === FEATURE_NAMES.length)) &&
      centroids.some((c) => c !== null);
    if (!ok) throw new Error('tier model: malformed centroid model');
    return centroidTierModel({ nClasses: TIERS.length, means, scales, centroids }, trainedOn, typeof doc.fallbackReason === 'string' ? doc.fallbackReason : 'restored');
  }
  throw new Error(`tier model: unknown kind '${String(doc.kind)}'`);
}

export interface TierMetrics {
  readonly count: number;
  readonly accuracy: number;
  /** Mean multinomial log loss, probabilities clipped to [1e-15, 1 − 1e-15]. */
  readonly logLoss: number;
  /** confusion[true][predicted], rows and columns in TIERS order. */
  readonly confusion: number[][];
  readonly labels: readonly Tier[];
}

/** Accuracy, log loss and confusion matrix of a model on labelled records. */
export function evaluateTierModel(model: TierModel, records: readonly TierRecord[]): TierMetrics {
  const confusion = TIERS.map(() => TIERS.map(() => 0));
  let correct = 0;
  let loss = 0;
  for (const r of records) {
    const truth = tierIndex(r.label);
    const p = model.predict(r.features);
    const predicted = TIERS.indexOf(p.tier);
    confusion[truth]![predicted]! += 1;
    if (predicted === truth) correct += 1;
    loss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, p.probabilities[TIERS[truth]!])));
  }
  const n = Math.max(1, records.length);
  return { count: records.length, accuracy: correct / n, logLoss: loss / n, confusion, labels: TIERS };
}

/**
 * Splits records (stratified by label, seeded), trains on the larger part and evaluates on the
 * held-out `testFraction` (default 0.2).
 */
export function trainAndEvaluate(records: readonly TierRecord[], options: TrainTierModelOptions & { readonly testFraction?: number } = {}): { model: TierModel; metrics: TierMetrics } {
  const y = Int32Array.from(records, (r) => tierIndex(r.label));
  const { first, second } = stratifiedSplit(y, TIERS.length, options.testFraction ?? 0.2, (options.seed ?? 0) + 1);
  const model = trainTierModel(
    first.map((i) => records[i]!),
    options,
  );
  return { model, metrics: evaluateTierModel(model, second.map((i) => records[i]!)) };
}

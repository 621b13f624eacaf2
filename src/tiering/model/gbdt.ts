/**
 * Histogram-based gradient-boosted trees for multiclass classification, in the manner of
 * scikit-learn's `HistGradientBoostingClassifier` (sklearn/ensemble/_hist_gradient_boosting),
 * written by hand: no well-kept JavaScript library does this (ydf-training is an alpha WASM
 * build of YDF; ml-xgboost has been unmaintained since 2018), and the model is small.
 *
 * Training (`trainGbdt`):
 * - Features are binned once (binning.ts: ≤ 255 quantile bins + a missing-value bin).
 * - Loss: multinomial log loss over softmax(raw). Raw scores start at the log of the class
 *   priors (centred); each iteration computes gradient p_k − y_k and hessian p_k·(1 − p_k) for
 *   every class from the same raw scores (float32, as scikit-learn keeps them), then grows one
 *   tree per class on them.
 * - A tree grows leaf-wise: of the leaves that can be split, the one whose best split has the
 *   largest gain is split next, until `maxLeafNodes` leaves. A node's histogram holds, per
 *   feature and bin, the sums of gradients and hessians and the count; only the smaller child's
 *   is built from its samples, the larger's is the parent's minus the smaller's.
 * - Best split of a node: every feature, every bin boundary, scanning left to right with
 *   missing values sent right and, when the feature had missing values in training, right to
 *   left with them sent left. Gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ) (λ =
 *   l2Regularization); both children need ≥ minSamplesLeaf samples and hessian ≥ 1e-3; a gain
 *   ≤ 0 leaves the node a leaf. Ties go to the lower feature, then the lower bin, then
 *   missing-right. With no missing values in training, a missing value at prediction time goes
 *   to the child that had more samples.
 * - Leaf value = −learningRate · G/(H + λ).
 * - Optional early stopping: a seeded stratified `validationFraction` of the rows is held out
 *   and training stops once the validation loss has not improved by more than `tol` over the
 *   last `nIterNoChange` iterations (scikit-learn's rule with scoring = 'loss').
 * Prediction walks the trees on raw feature values (a split on bin b is x ≤ edge[b]; a split on
 * "missing or not" has threshold +∞), so a fitted model needs no bin edges.
 */
import { mulberry32 } from '../../random.ts';
import { MISSING_BIN, binRows, fitBinMapper } from './binning.ts';

export interface GbdtOptions {
  /** Shrinkage of every leaf value. Default 0.1. */
  readonly learningRate?: number;
  /** Boosting iterations (each adds one tree per class). Default 100. */
  readonly maxIter?: number;
  /** Leaves per tree. Default 31. */
  readonly maxLeafNodes?: number;
  /** Samples each leaf needs at least. Default 20. */
  readonly minSamplesLeaf?: number;
  /** λ in the gain and the leaf values. Default 0. */
  readonly l2Regularization?: number;
  /** Bins of non-missing values per feature, ≤ 255. Default 255. */
  readonly maxBins?: number;
  /** Hold out a validation split and stop when its loss stops improving. Default false. */
  readonly earlyStopping?: boolean;
  readonly validationFraction?: number;
  readonly nIterNoChange?: number;
  readonly tol?: number;
  /** Seeds the validation split and the binning subsample. Default 0. */
  readonly seed?: number;
}

/** One regression tree; node 0 is the root, a leaf has left = right = −1. */
export interface Tree {
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  /** 1 where a missing value goes left. */
  readonly missingLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Leaf values (shrinkage applied); 0 at split nodes. */
  readonly value: Float64Array;
}

export interface GbdtModel {
  readonly nClasses: number;
  readonly nFeatures: number;
  /** Initial raw score per class. */
  readonly baseline: Float64Array;
  /** trees[iteration][class]. */
  readonly trees: readonly (readonly Tree[])[];
  /** Validation loss per iteration (index 0 = before the first), when early stopping ran. */
  readonly validationLoss?: readonly number[];
}

const MIN_HESSIAN_TO_SPLIT = 1e-3;
const BINS = 256;

interface Split {
  readonly gain: number;
  readonly feature: number;
  readonly bin: number;
  readonly missingLeft: boolean;
  readonly nLeft: number;
  readonly gLeft: number;
  readonly hLeft: number;
}

interface GrowNode {
  readonly id: number;
  readonly start: number;
  readonly end: number;
  readonly sumG: number;
  readonly sumH: number;
  /** (G, H) per feature × bin, interleaved. */
  hist: Float64Array | undefined;
  counts: Uint32Array | undefined;
  split: Split | undefined;
}

interface GrowOptions {
  readonly maxLeafNodes: number;
  readonly minSamplesLeaf: number;
  readonly l2: number;
  readonly learningRate: number;
}

/** Grows trees on one binned training set; reused across the trees of a fit. */
class Grower {
  readonly indices: Uint32Array;
  private readonly temp: Uint32Array;
  private readonly og: Float64Array;
  private readonly oh: Float64Array;
  /** Histograms of finished nodes, reused (zeroed) instead of allocated per node. */
  private readonly pool: { hist: Float64Array; counts: Uint32Array }[] = [];

  private readonly binned: Uint8Array;
  private readonly n: number;
  private readonly nFeatures: number;
  private readonly nNonMissing: Int32Array;
  private readonly hasMissing: Uint8Array;
  private readonly edges: readonly Float64Array[];
  private readonly options: GrowOptions;

  constructor(binned: Uint8Array, n: number, nFeatures: number, nNonMissing: Int32Array, hasMissing: Uint8Array, edges: readonly Float64Array[], options: GrowOptions) {
    this.binned = binned;
    this.n = n;
    this.nFeatures = nFeatures;
    this.nNonMissing = nNonMissing;
    this.hasMissing = hasMissing;
    this.edges = edges;
    this.options = options;
    this.indices = new Uint32Array(n);
    this.temp = new Uint32Array(n);
    this.og = new Float64Array(n);
    this.oh = new Float64Array(n);
  }

  /** Grows a tree on gradients g and hessians h; calls `leaf(start, end, value)` for each leaf's rows in `indices`. */
  grow(g: Float32Array, h: Float32Array, leaf: (start: number, end: number, value: number) => void): Tree {
    const { maxLeafNodes, minSamplesLeaf, l2, learningRate } = this.options;
    const n = this.n;
    for (let i = 0; i < n; i++) this.indices[i] = i;
    const feature: number[] = [];
    const threshold: number[] = [];
    const missingLeft: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const value: number[] = [];
    const newNode = (start: number, end: number, sumG: number, sumH: number): GrowNode => {
      const id = feature.length;
      feature.push(-1);
      threshold.push(0);
      missingLeft.push(0);
      left.push(-1);
      right.push(-1);
      value.push(0);
      return { id, start, end, sumG, sumH, hist: undefined, counts: undefined, split: undefined };
    };
    const finalize = (node: GrowNode): void => {
      const v = -learningRate * (node.sumG / (node.sumH + l2 + 1e-15));
      value[node.id] = v;
      this.release(node);
      leaf(node.start, node.end, v);
    };

    let sumG = 0;
    let sumH = 0;
    for (let i = 0; i < n; i++) {
      sumG += g[i]!;
      sumH += h[i]!;
    }
    const root = newNode(0, n, sumG, sumH);
    const splittable: GrowNode[] = [];
    if (n < 2 * minSamplesLeaf || sumH < MIN_HESSIAN_TO_SPLIT) {
      finalize(root);
    } else {
      this.buildHistogram(root, g, h);
      this.findSplitAndQueue(root, splittable, finalize);
    }
    let leaves = 1;
    while (splittable.length > 0) {
      // The leaf whose split gains most (the first queued on a tie).
      let best = 0;
      for (let i = 1; i < splittable.length; i++) if (splittable[i]!.split!.gain > splittable[best]!.split!.gain) best = i;
      const node = splittable.splice(best, 1)[0]!;
      const split = node.split!;
      const mid = this.partition(node, split);
      const leftNode = newNode(node.start, mid, split.gLeft, split.hLeft);
      const rightNode = newNode(mid, node.end, node.sumG - split.gLeft, node.sumH - split.hLeft);
      feature[node.id] = split.feature;
      const edges = this.edges[split.feature]!;
      threshold[node.id] = split.bin < edges.length ? edges[split.bin]! : Number.POSITIVE_INFINITY;
      // No missing values in training: they go where most samples went.
      missingLeft[node.id] = (this.hasMissing[split.feature] === 1 ? split.missingLeft : split.nLeft > node.end - node.start - split.nLeft) ? 1 : 0;
      left[node.id] = leftNode.id;
      right[node.id] = rightNode.id;
      leaves += 1;

      if (leaves >= maxLeafNodes) {
        this.release(node);
        finalize(leftNode);
        finalize(rightNode);
        for (const other of splittable) finalize(other);
        splittable.length = 0;
        break;
      }
      const splitLeft = leftNode.end - leftNode.start >= 2 * minSamplesLeaf && leftNode.sumH >= MIN_HESSIAN_TO_SPLIT;
      const splitRight = rightNode.end - rightNode.start >= 2 * minSamplesLeaf && rightNode.sumH >= MIN_HESSIAN_TO_SPLIT;
      if (splitLeft || splitRight) {
        const leftSmaller = leftNode.end - leftNode.start <= rightNode.end - rightNode.start;
        const small = leftSmaller ? leftNode : rightNode;
        const large = leftSmaller ? rightNode : leftNode;
        this.buildHistogram(small, g, h);
        // Sibling by subtraction: the parent's histogram becomes the larger child's.
        const hist = node.hist!;
        const counts = node.counts!;
        const sh = small.hist!;
        const sc = small.counts!;
        for (let k = 0; k < hist.length; k++) hist[k]! -= sh[k]!;
        for (let k = 0; k < counts.length; k++) counts[k]! -= sc[k]!;
        large.hist = hist;
        large.counts = counts;
        node.hist = undefined;
        node.counts = undefined;
      } else {
        this.release(node);
      }
      if (splitLeft) this.findSplitAndQueue(leftNode, splittable, finalize);
      else finalize(leftNode);
      if (splitRight) this.findSplitAndQueue(rightNode, splittable, finalize);
      else finalize(rightNode);
    }
    return {
      feature: Int32Array.from(feature),
      threshold: Float64Array.from(threshold),
      missingLeft: Uint8Array.from(missingLeft),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      value: Float64Array.from(value),
    };
  }

  private release(node: GrowNode): void {
    if (node.hist !== undefined && node.counts !== undefined) this.pool.push({ hist: node.hist, counts: node.counts });
    node.hist = undefined;
    node.counts = undefined;
  }

  private buildHistogram(node: GrowNode, g: Float32Array, h: Float32Array): void {
    const pooled = this.pool.pop();
    const hist = pooled?.hist.fill(0) ?? new Float64Array(this.nFeatures * BINS * 2);
    const counts = pooled?.counts.fill(0) ?? new Uint32Array(this.nFeatures * BINS);
    const { start, end } = node;
    const idx = this.indices;
    const og = this.og;
    const oh = this.oh;
    for (let j = start; j < end; j++) {
      const i = idx[j]!;
      og[j] = g[i]!;
      oh[j] = h[i]!;
    }
    const n = this.n;
    const binned = this.binned;
    if (start === 0 && end === n) {
      // The root: every row, in order, so no indirection through the indices.
      for (let f = 0; f < this.nFeatures; f++) {
        const base = f * n;
        const hb = f * BINS;
        for (let i = 0; i < n; i++) {
          const b = hb + binned[base + i]!;
          hist[2 * b]! += g[i]!;
          hist[2 * b + 1]! += h[i]!;
          counts[b]! += 1;
        }
      }
      node.hist = hist;
      node.counts = counts;
      return;
    }
    for (let f = 0; f < this.nFeatures; f++) {
      const base = f * n;
      const hb = f * BINS;
      for (let j = start; j < end; j++) {
        const b = hb + binned[base + idx[j]!]!;
        hist[2 * b]! += og[j]!;
        hist[2 * b + 1]! += oh[j]!;
        counts[b]! += 1;
      }
    }
    node.hist = hist;
    node.counts = counts;
  }

  private findSplitAndQueue(node: GrowNode, queue: GrowNode[], finalize: (node: GrowNode) => void): void {
    node.split = this.bestSplit(node);
    if (node.split === undefined || node.split.gain <= 0) finalize(node);
    else queue.push(node);
  }

  private bestSplit(node: GrowNode): Split | undefined {
    const { minSamplesLeaf, l2 } = this.options;
    const hist = node.hist!;
    const counts = node.counts!;
    const total = node.end - node.start;
    const G = node.sumG;
    const H = node.sumH;
    const score = (g: number, hh: number): number => (g * g) / (hh + l2 + 1e-15);
    const parent = score(G, H);
    let best: Split | undefined;
    let bestGain = -1;
    for (let f = 0; f < this.nFeatures; f++) {
      const hb = f * BINS;
      const nonMissing = this.nNonMissing[f]!;
      const missing = this.hasMissing[f] === 1;
      // Left to right, missing values (if any) on the right.
      let nL = 0;
      let gL = 0;
      let hL = 0;
      const last = nonMissing - 1 + (missing ? 1 : 0);
      for (let b = 0; b < last; b++) {
        nL += counts[hb + b]!;
        gL += hist[2 * (hb + b)]!;
        hL += hist[2 * (hb + b) + 1]!;
        const nR = total - nL;
        if (nL < minSamplesLeaf) continue;
        if (nR < minSamplesLeaf) break;
        const hR = H - hL;
        if (hL < MIN_HESSIAN_TO_SPLIT) continue;
        if (hR < MIN_HESSIAN_TO_SPLIT) break;
        const gain = score(gL, hL) + score(G - gL, hR) - parent;
        if (gain > bestGain && gain > 0) {
          bestGain = gain;
          best = { gain, feature: f, bin: b, missingLeft: false, nLeft: nL, gLeft: gL, hLeft: hL };
        }
      }
      if (!missing) continue;
      // Right to left, missing values on the left.
      let nR = 0;
      let gR = 0;
      let hR = 0;
      for (let b = nonMissing - 2; b >= 0; b--) {
        nR += counts[hb + b + 1]!;
        gR += hist[2 * (hb + b + 1)]!;
        hR += hist[2 * (hb + b + 1) + 1]!;
        const nLeft = total - nR;
        if (nR < minSamplesLeaf) continue;
        if (nLeft < minSamplesLeaf) break;
        const hLeft = H - hR;
        if (hR < MIN_HESSIAN_TO_SPLIT) continue;
        if (hLeft < MIN_HESSIAN_TO_SPLIT) break;
        const gain = score(G - gR, hLeft) + score(gR, hR) - parent;
        if (gain > bestGain && gain > 0) {
          bestGain = gain;
          best = { gain, feature: f, bin: b, missingLeft: true, nLeft, gLeft: G - gR, hLeft };
        }
      }
    }
    return best;
  }

  /** Stable partition of the node's rows: left ones first. Returns the first right position. */
  private partition(node: GrowNode, split: Split): number {
    const idx = this.indices;
    const temp = this.temp;
    const base = split.feature * this.n;
    const binned = this.binned;
    let l = node.start;
    let r = 0;
    for (let j = node.start; j < node.end; j++) {
      const i = idx[j]!;
      const b = binned[base + i]!;
      const goLeft = b === MISSING_BIN ? split.missingLeft : b <= split.bin;
      if (goLeft) idx[l++] = i;
      else temp[r++] = i;
    }
    idx.set(temp.subarray(0, r), l);
    return l;
  }
}

/** The leaf value a tree gives a feature vector. */
export function treeValue(tree: Tree, x: ArrayLike<number>): number {
  let node = 0;
  const { feature, threshold, missingLeft, left, right } = tree;
  while (left[node]! >= 0) {
    const v = x[feature[node]!];
    const goLeft = v === undefined || Number.isNaN(v) ? missingLeft[node] === 1 : v <= threshold[node]!;
    node = goLeft ? left[node]! : right[node]!;
  }
  return tree.value[node]!;
}

/** Every tree of a model in one set of arrays (child indices absolute), for fast prediction. */
interface Forest {
  readonly roots: Int32Array;
  readonly classOf: Int32Array;
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly missingLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly value: Float64Array;
}

const forests = new WeakMap<GbdtModel, Forest>();

function forestOf(model: GbdtModel): Forest {
  const cached = forests.get(model);
  if (cached !== undefined) return cached;
  const all = model.trees.flatMap((round) => round.map((tree, k) => ({ tree, k })));
  const size = all.reduce((a, { tree }) => a + tree.feature.length, 0);
  const forest: Forest = {
    roots: new Int32Array(all.length),
    classOf: new Int32Array(all.length),
    feature: new Int32Array(size),
    threshold: new Float64Array(size),
    missingLeft: new Uint8Array(size),
    left: new Int32Array(size),
    right: new Int32Array(size),
    value: new Float64Array(size),
  };
  let offset = 0;
  all.forEach(({ tree, k }, t) => {
    forest.roots[t] = offset;
    forest.classOf[t] = k;
    forest.feature.set(tree.feature, offset);
    forest.threshold.set(tree.threshold, offset);
    forest.missingLeft.set(tree.missingLeft, offset);
    forest.value.set(tree.value, offset);
    for (let i = 0; i < tree.left.length; i++) {
      forest.left[offset + i] = tree.left[i]! < 0 ? -1 : offset + tree.left[i]!;
      forest.right[offset + i] = tree.right[i]! < 0 ? -1 : offset + tree.right[i]!;
    }
    offset += tree.feature.length;
  });
  forests.set(model, forest);
  return forest;
}

/** Raw scores (one per class) of a feature vector (NaN or absent = missing). */
export function gbdtRaw(model: GbdtModel, x: ArrayLike<number>): Float64Array {
  const raw = Float64Array.from(model.baseline);
  const { roots, classOf, feature, threshold, missingLeft, left, right, value } = forestOf(model);
  for (let t = 0; t < roots.length; t++) {
    let node = roots[t]!;
    while (left[node]! >= 0) {
      const v = x[feature[node]!];
      const goLeft = v === undefined || Number.isNaN(v) ? missingLeft[node] === 1 : v <= threshold[node]!;
      node = goLeft ? left[node]! : right[node]!;
    }
    raw[classOf[t]!]! += value[node]!;
  }
  return raw;
}

/** Softmax in place (max subtracted first). */
export function softmax(raw: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of raw) if (v > max) max = v;
  let sum = 0;
  for (let k = 0; k < raw.length; k++) {
    raw[k] = Math.exp(raw[k]! - max);
    sum += raw[k]!;
  }
  for (let k = 0; k < raw.length; k++) raw[k]! /= sum;
  return raw;
}

/** Class probabilities of a feature vector. */
export function gbdtProba(model: GbdtModel, x: ArrayLike<number>): Float64Array {
  return softmax(gbdtRaw(model, x));
}

/** A seeded stratified split: `fraction` of each class to the second part. */
export function stratifiedSplit(y: ArrayLike<number>, nClasses: number, fraction: number, seed: number): { first: number[]; second: number[] } {
  const random = mulberry32(seed);
  const byClass: number[][] = Array.from({ length: nClasses }, () => []);
  for (let i = 0; i < y.length; i++) byClass[y[i]!]!.push(i);
  const first: number[] = [];
  const second: number[] = [];
  for (const rows of byClass) {
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = rows[i]!;
      rows[i] = rows[j]!;
      rows[j] = t;
    }
    const held = Math.round(rows.length * fraction);
    second.push(...rows.slice(0, held));
    first.push(...rows.slice(held));
  }
  first.sort((a, b) => a - b);
  second.sort((a, b) => a - b);
  return { first, second };
}

/** Mean multinomial log loss of raw scores (row-major, nClasses per row). */
function meanLogLoss(raw: Float64Array, y: ArrayLike<number>, nClasses: number): number {
  let loss = 0;
  for (let i = 0; i < y.length; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < nClasses; k++) max = Math.max(max, raw[i * nClasses + k]!);
    let sum = 0;
    for (let k = 0; k < nClasses; k++) sum += Math.exp(raw[i * nClasses + k]! - max);
    loss += Math.log(sum) + max - raw[i * nClasses + y[i]!]!;
  }
  return loss / y.length;
}

/**
 * Fits the model on rows of features (NaN = missing) and class indices y in [0, nClasses).
 * Every class should occur in y (a class never seen gets a very low prior, not an error).
 * `weights` (one per row, ≥ 0, default 1) scale each row's gradient and hessian (and the
 * priors): a row of weight 2 counts as two copies of it.
 */
export function trainGbdt(rows: readonly (readonly number[])[], y: ArrayLike<number>, nClasses: number, options: GbdtOptions = {}, weights?: ArrayLike<number>): GbdtModel {
  const learningRate = options.learningRate ?? 0.1;
  const maxIter = options.maxIter ?? 100;
  const maxLeafNodes = options.maxLeafNodes ?? 31;
  const minSamplesLeaf = options.minSamplesLeaf ?? 20;
  const l2 = options.l2Regularization ?? 0;
  const seed = options.seed ?? 0;
  if (rows.length === 0) throw new Error('gbdt: no training rows');
  if (rows.length !== y.length) throw new Error(`gbdt: ${rows.length} rows but ${y.length} labels`);
  if (maxLeafNodes < 2) throw new Error('gbdt: maxLeafNodes must be ≥ 2');
  if (weights !== undefined) {
    if (weights.length !== rows.length) throw new Error(`gbdt: ${rows.length} rows but ${weights.length} weights`);
    for (let i = 0; i < weights.length; i++) if (!(weights[i]! >= 0) || !Number.isFinite(weights[i]!)) throw new Error(`gbdt: weight ${i} is not a finite number ≥ 0`);
  }
  const nFeatures = rows[0]!.length;

  let trainRows = rows;
  let trainY: ArrayLike<number> = y;
  let trainW: ArrayLike<number> | undefined = weights;
  let validRows: readonly (readonly number[])[] = [];
  let validY: number[] = [];
  if (options.earlyStopping === true) {
    const { first, second } = stratifiedSplit(y, nClasses, options.validationFraction ?? 0.1, seed);
    trainRows = first.map((i) => rows[i]!);
    trainY = Int32Array.from(first, (i) => y[i]!);
    if (weights !== undefined) trainW = Float64Array.from(first, (i) => weights[i]!);
    validRows = second.map((i) => rows[i]!);
    validY = second.map((i) => y[i]!);
  }
  const n = trainRows.length;
  const mapper = fitBinMapper(trainRows, nFeatures, { maxBins: options.maxBins ?? 255, seed });
  const binned = binRows(mapper, trainRows);
  const nNonMissing = Int32Array.from(mapper.edges, (e) => e.length + 1);
  const hasMissing = Uint8Array.from(mapper.hasMissing, (m) => (m ? 1 : 0));

  // Baseline: log of the class priors, centred.
  const baseline = new Float64Array(nClasses);
  let totalWeight = 0;
  for (let i = 0; i < n; i++) {
    const w = trainW === undefined ? 1 : trainW[i]!;
    baseline[trainY[i]!]! += w;
    totalWeight += w;
  }
  if (!(totalWeight > 0)) throw new Error('gbdt: the weights sum to 0');
  const eps = 2.220446049250313e-16;
  for (let k = 0; k < nClasses; k++) baseline[k] = Math.log(Math.min(1 - eps, Math.max(eps, baseline[k]! / totalWeight)));
  const mean = baseline.reduce((a, b) => a + b, 0) / nClasses;
  for (let k = 0; k < nClasses; k++) baseline[k]! -= mean;

  const raw = new Float64Array(n * nClasses);
  for (let i = 0; i < n; i++) raw.set(baseline, i * nClasses);
  const grad = new Float32Array(n * nClasses);
  const hess = new Float32Array(n * nClasses);
  const grower = new Grower(binned, n, nFeatures, nNonMissing, hasMissing, mapper.edges, { maxLeafNodes, minSamplesLeaf, l2, learningRate });
  const trees: Tree[][] = [];
  const validRaw = new Float64Array(validRows.length * nClasses);
  for (let i = 0; i < validRows.length; i++) validRaw.set(baseline, i * nClasses);
  const validationLoss: number[] = [];
  if (options.earlyStopping === true) validationLoss.push(meanLogLoss(validRaw, validY, nClasses));
  const p = new Float64Array(nClasses);

  for (let iter = 0; iter < maxIter; iter++) {
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < nClasses; k++) p[k] = raw[i * nClasses + k]!;
      softmax(p);
      const label = trainY[i]!;
      const w = trainW === undefined ? 1 : trainW[i]!;
      for (let k = 0; k < nClasses; k++) {
        const pk = p[k]!;
        grad[k * n + i] = w * (pk - (k === label ? 1 : 0));
        hess[k * n + i] = w * pk * (1 - pk);
      }
    }
    const round: Tree[] = [];
    for (let k = 0; k < nClasses; k++) {
      const idx = grower.indices;
      const tree = grower.grow(grad.subarray(k * n, (k + 1) * n), hess.subarray(k * n, (k + 1) * n), (start, end, v) => {
        for (let j = start; j < end; j++) raw[idx[j]! * nClasses + k]! += v;
      });
      round.push(tree);
    }
    trees.push(round);
    if (options.earlyStopping === true) {
      for (let i = 0; i < validRows.length; i++) for (let k = 0; k < nClasses; k++) validRaw[i * nClasses + k]! += treeValue(round[k]!, validRows[i]!);
      validationLoss.push(meanLogLoss(validRaw, validY, nClasses));
      if (shouldStop(validationLoss, options.nIterNoChange ?? 10, options.tol ?? 1e-7)) break;
    }
  }
  return { nClasses, nFeatures, baseline, trees, ...(options.earlyStopping === true ? { validationLoss } : {}) };
}

/** scikit-learn's rule: stop when none of the last `patience` losses beats the one before them by more than tol. */
function shouldStop(losses: readonly number[], patience: number, tol: number): boolean {
  if (losses.length < patience + 1) return false;
  const reference = losses[losses.length - patience - 1]! - tol;
  for (let i = losses.length - patience; i < losses.length; i++) if (losses[i]! < reference) return false;
  return true;
}

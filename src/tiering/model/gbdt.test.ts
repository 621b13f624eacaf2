/**
 * The histogram GBDT (gbdt.ts): unit tests on toy problems, and the proof against
 * scikit-learn: on a seeded synthetic tiering data set, our test accuracy is within one point
 * of `HistGradientBoostingClassifier` with the same hyper-parameters, run in the lab's Python.
 */
import { describe, expect, it } from 'vitest';
import { labEnv } from '../../../test/lab.ts';
import { tierIndex, TIERS } from './features.ts';
import { gbdtProba, trainGbdt } from './gbdt.ts';
import { mulberry32 } from '../../random.ts';
import { runSklearn } from './reference.ts';
import { syntheticTierRecords } from './synthetic.ts';

function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k;
  return best;
}

/** Two features in [0, 1): class 1 iff x0 > 0.6; x1 is noise. */
function toy(n: number, seed: number): { rows: number[][]; y: number[] } {
  const random = mulberry32(seed);
  const rows: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [random(), random()];
    rows.push(row);
    y.push(row[0]! > 0.6 ? 1 : 0);
  }
  return { rows, y };
}

describe('trainGbdt', () => {
  it('finds the one split of a separable problem', () => {
    const { rows, y } = toy(500, 1);
    const model = trainGbdt(rows, y, 2, { maxIter: 1, maxLeafNodes: 2 });
    expect(model.trees).toHaveLength(1);
    for (const tree of model.trees[0]!) {
      expect(Array.from(tree.left)).toEqual([1, -1, -1]);
      expect(tree.feature[0]).toBe(0);
      expect(Math.abs(tree.threshold[0]! - 0.6)).toBeLessThan(0.01);
      // Class 0's tree lowers its score on the right (x0 > 0.6), class 1's raises it.
    }
    expect(model.trees[0]![0]!.value[2]!).toBeLessThan(0);
    expect(model.trees[0]![1]!.value[2]!).toBeGreaterThan(0);
    const boosted = trainGbdt(rows, y, 2, { maxIter: 30 });
    const wrong = rows.filter((r, i) => argmax(gbdtProba(boosted, r)) !== y[i]).length;
    expect(wrong).toBe(0);
  });

  it('learns which way missing values go', () => {
    // Class 0: x0 < 0.3 or missing; class 1: x0 ≥ 0.3. One split separates them only if missing
    // values go left with the low values (found by the right-to-left scan).
    const random = mulberry32(3);
    const rows: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 600; i++) {
      const x = i % 4 === 0 ? Number.NaN : random();
      rows.push([x, random()]);
      y.push(Number.isNaN(x) || x < 0.3 ? 0 : 1);
    }
    const model = trainGbdt(rows, y, 2, { maxIter: 1, maxLeafNodes: 2 });
    const tree = model.trees[0]![1]!;
    expect(tree.feature[0]).toBe(0);
    expect(tree.missingLeft[0]).toBe(1);
    expect(Math.abs(tree.threshold[0]! - 0.3)).toBeLessThan(0.02);
    const boosted = trainGbdt(rows, y, 2, { maxIter: 20 });
    expect(argmax(gbdtProba(boosted, [Number.NaN, 0.5]))).toBe(0);
    expect(argmax(gbdtProba(boosted, [0.1, 0.5]))).toBe(0);
    expect(argmax(gbdtProba(boosted, [0.8, 0.5]))).toBe(1);
    // No missing values in training: a missing value goes with the larger child.
    const complete = trainGbdt(toy(500, 4).rows, toy(500, 4).y, 2, { maxIter: 1, maxLeafNodes: 2 });
    expect(complete.trees[0]![0]!.missingLeft[0]).toBe(1); // x0 ≤ 0.6 holds ~60% of the rows
  });

  it('gives probabilities that sum to 1', () => {
    const records = syntheticTierRecords(600, 5);
    const model = trainGbdt(records.map((r) => r.features), records.map((r) => tierIndex(r.label)), 3, { maxIter: 20 });
    for (const r of syntheticTierRecords(200, 6)) {
      const p = gbdtProba(model, r.features);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      for (const v of p) expect(v).toBeGreaterThanOrEqual(0);
    }
  });

  it('trains deterministically for a seed (early stopping split included)', () => {
    const records = syntheticTierRecords(800, 8);
    const rows = records.map((r) => r.features);
    const y = records.map((r) => tierIndex(r.label));
    const fit = (seed: number) => trainGbdt(rows, y, 3, { maxIter: 30, earlyStopping: true, nIterNoChange: 3, seed });
    const a = fit(11);
    const b = fit(11);
    expect(a.validationLoss).toEqual(b.validationLoss);
    expect(a.trees.length).toBe(b.trees.length);
    for (let i = 0; i < a.trees.length; i++) for (let k = 0; k < 3; k++) expect(Array.from(a.trees[i]![k]!.value)).toEqual(Array.from(b.trees[i]![k]!.value));
    expect(fit(12).validationLoss).not.toEqual(a.validationLoss);
  });

  it('stops early once the validation loss stops improving', () => {
    const records = syntheticTierRecords(1000, 9);
    const model = trainGbdt(records.map((r) => r.features), records.map((r) => tierIndex(r.label)), 3, { maxIter: 200, learningRate: 0.5, earlyStopping: true, nIterNoChange: 5 });
    expect(model.trees.length).toBeLessThan(200);
    const losses = model.validationLoss!;
    expect(losses).toHaveLength(model.trees.length + 1);
    const best = Math.min(...losses);
    expect(losses.slice(-5).every((l) => l >= best - 1e-7)).toBe(true);
  });
});

function labPython(): string {
  let python: string | undefined;
  try {
    python = labEnv()['LAB_PYTHON'];
  } catch {
    python = undefined;
  }
  if (!python) throw new Error('LAB_PYTHON is not set: the comparison with scikit-learn needs the lab (run without MOVINGDATA_NO_LAB)');
  return python;
}

describe('against scikit-learn HistGradientBoostingClassifier', () => {
  it('matches its test accuracy within one point on a synthetic tiering data set', () => {
    const python = labPython();
    const records = syntheticTierRecords(4000, 42);
    const train = records.slice(0, 3000);
    const test = records.slice(3000);
    const params = { learning_rate: 0.1, max_iter: 100, max_leaf_nodes: 31, min_samples_leaf: 20 };
    const ours = trainGbdt(train.map((r) => r.features), train.map((r) => tierIndex(r.label)), TIERS.length, {
      learningRate: params.learning_rate,
      maxIter: params.max_iter,
      maxLeafNodes: params.max_leaf_nodes,
      minSamplesLeaf: params.min_samples_leaf,
      l2Regularization: 0,
      earlyStopping: false,
    });
    const proba = test.map((r) => gbdtProba(ours, r.features));
    const predicted = proba.map(argmax);
    const accuracy = predicted.filter((k, i) => k === tierIndex(test[i]!.label)).length / test.length;
    const sk = runSklearn(python, train, test, params, { threads: 1 });
    const agreement = predicted.filter((k, i) => k === sk.predicted![i]).length / test.length;
    let probaGap = 0;
    proba.forEach((p, i) => p.forEach((v, k) => (probaGap = Math.max(probaGap, Math.abs(v - sk.proba![i]![k]!)))));
    console.log(`gbdt vs scikit-learn: accuracy ${accuracy.toFixed(4)} vs ${sk.accuracy.toFixed(4)}, same prediction on ${(agreement * 100).toFixed(1)}%, largest probability gap ${probaGap.toExponential(2)}`);
    expect(accuracy).toBeGreaterThan(0.7);
    expect(Math.abs(accuracy - sk.accuracy)).toBeLessThanOrEqual(0.01);
    expect(agreement).toBeGreaterThanOrEqual(0.97);
    expect(probaGap).toBeLessThan(1e-3);
  });
});

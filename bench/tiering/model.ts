/**
 * Tier model benchmark: our histogram GBDT (src/tiering/model) against scikit-learn's
 * HistGradientBoostingClassifier (the lab venv's 1.9.1, LAB_PYTHON) on the same seeded synthetic
 * tiering data: training time and held-out accuracy on `trainRows` (20,000) rows, and the time to
 * predict `predictRows` (100,000) rows, with the same hyper-parameters (learning rate 0.1, 100
 * iterations, 31 leaves, 20 samples a leaf, no L2, no early stopping).
 *
 * - Ours: one thread, in process; training = `trainTierModel` (binning included), prediction =
 *   `predict()` per row (the product's call, result objects included).
 * - scikit-learn: timed inside Python around `fit` and `predict_proba` (CSV loading and
 *   interpreter start excluded), OMP_NUM_THREADS=1 by default so both sides use one core
 *   (`threads` to change it; on a busy 2-core machine more threads can be far slower).
 * - Also the centroid fallback's accuracy on the same split, for scale.
 *
 * Run alone: `npx node bench/tiering/model.ts [--quick]`, or call `runModelBench(log)`.
 */
import { parseArgs } from 'node:util';
import { labPaths } from '../../src/lab/paths.ts';
import { labPython } from '../../src/lab/python.ts';
import { evaluateTierModel, trainTierModel } from '../../src/tiering/model/model.ts';
import { runSklearn } from '../../src/tiering/model/reference.ts';
import { syntheticTierRecords } from '../../src/tiering/model/synthetic.ts';
import { table } from '../lib/table.ts';

export interface ModelBenchRow {
  readonly what: string;
  readonly rows: number;
  readonly oursSeconds: number;
  readonly sklearnSeconds: number | undefined;
  /** ours / scikit-learn seconds (below 1: we are faster). */
  readonly ratio: number | undefined;
  readonly oursAccuracy: number | undefined;
  readonly sklearnAccuracy: number | undefined;
}

export interface ModelBenchOptions {
  readonly trainRows?: number;
  readonly predictRows?: number;
  readonly seed?: number;
  /** The Python with scikit-learn; default the lab's venv. */
  readonly python?: string;
  /** OMP_NUM_THREADS for scikit-learn. Default 1. */
  readonly threads?: number;
}

export async function runModelBench(log: (line: string) => void, options: ModelBenchOptions = {}): Promise<ModelBenchRow[]> {
  const trainRows = options.trainRows ?? 20_000;
  const predictRows = options.predictRows ?? 100_000;
  const python = options.python ?? labPython(labPaths());
  const records = syntheticTierRecords(trainRows + predictRows, options.seed ?? 2026);
  const train = records.slice(0, trainRows);
  const test = records.slice(trainRows);
  const params = { learning_rate: 0.1, max_iter: 100, max_leaf_nodes: 31, min_samples_leaf: 20 };

  log(`tiering model: ours, training on ${trainRows} rows`);
  // A short warm-up fit so the timed one runs optimised code, as scikit-learn's compiled code does.
  trainTierModel(train.slice(0, 2000), { maxIter: 5 });
  let started = performance.now();
  const model = trainTierModel(train, { learningRate: params.learning_rate, maxIter: params.max_iter, maxLeafNodes: params.max_leaf_nodes, minSamplesLeaf: params.min_samples_leaf, l2Regularization: 0, earlyStopping: false });
  const oursTrain = (performance.now() - started) / 1000;
  log(`tiering model: ours, predicting ${predictRows} rows`);
  started = performance.now();
  let correct = 0;
  for (const r of test) if (model.predict(r.features).tier === r.label) correct += 1;
  const oursPredict = (performance.now() - started) / 1000;
  const oursAccuracy = correct / test.length;

  log(`tiering model: scikit-learn (OMP_NUM_THREADS=${options.threads ?? 1})`);
  const sk = runSklearn(python, train, test, params, { threads: options.threads ?? 1, summaryOnly: true });

  started = performance.now();
  const centroid = trainTierModel(train, { minRecordsForGbdt: Number.POSITIVE_INFINITY });
  const centroidTrain = (performance.now() - started) / 1000;
  const centroidMetrics = evaluateTierModel(centroid, test);

  return [
    { what: 'GBDT train (100 iter × 3 classes)', rows: trainRows, oursSeconds: oursTrain, sklearnSeconds: sk.fit_seconds, ratio: oursTrain / sk.fit_seconds, oursAccuracy, sklearnAccuracy: sk.accuracy },
    { what: 'GBDT predict (probabilities)', rows: predictRows, oursSeconds: oursPredict, sklearnSeconds: sk.predict_seconds, ratio: oursPredict / sk.predict_seconds, oursAccuracy: undefined, sklearnAccuracy: undefined },
    { what: 'centroid fallback train', rows: trainRows, oursSeconds: centroidTrain, sklearnSeconds: undefined, ratio: undefined, oursAccuracy: centroidMetrics.accuracy, sklearnAccuracy: undefined },
  ];
}

export function printModelBench(rows: readonly ModelBenchRow[]): void {
  console.log('\nTier model: our GBDT vs scikit-learn HistGradientBoostingClassifier, same data and hyper-parameters, one core each (ratio = ours / scikit-learn seconds; accuracy on the predicted rows)');
  console.log(table(['what', 'rows', 'ours s', 'sklearn s', 'ratio', 'ours accuracy', 'sklearn accuracy'], rows.map((r) => [r.what, r.rows, r.oursSeconds, r.sklearnSeconds ?? '', r.ratio ?? '', r.oursAccuracy ?? '', r.sklearnAccuracy ?? ''])));
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
  const rows = await runModelBench((line) => console.error(`bench: ${line}`), values.quick === true ? { trainRows: 4000, predictRows: 20_000 } : {});
  printModelBench(rows);
}

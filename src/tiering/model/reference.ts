/**
 * scikit-learn's `HistGradientBoostingClassifier` as the reference for our GBDT, run in a given
 * Python (the lab's venv, LAB_PYTHON, has scikit-learn 1.9.1): the same train/test records go
 * through CSV files (NaN written as `nan`), and the run reports test accuracy, predictions and
 * probabilities, the fit's seconds and the seconds of predict_proba on the test rows, measured
 * inside Python. For the tests (gbdt.test.ts) and the bench (bench/tiering/model.ts) only.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tierIndex, type TierRecord } from './features.ts';

const SCRIPT = `
import json, sys, time
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
params = json.loads(sys.argv[3])
train = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
test = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)
model = HistGradientBoostingClassifier(early_stopping=False, l2_regularization=0.0, max_bins=255, **params)
started = time.perf_counter()
model.fit(train[:, :-1], train[:, -1].astype(int))
fit_seconds = time.perf_counter() - started
started = time.perf_counter()
proba = model.predict_proba(test[:, :-1])
predict_seconds = time.perf_counter() - started
predicted = model.classes_[proba.argmax(axis=1)]
out = {"accuracy": float((predicted == test[:, -1]).mean()), "n_iter": int(model.n_iter_), "fit_seconds": fit_seconds, "predict_seconds": predict_seconds}
if len(sys.argv) < 5:
    out["predicted"] = predicted.tolist()
    out["proba"] = proba.tolist()
json.dump(out, sys.stdout)
`;

export interface SklearnParams {
  readonly learning_rate: number;
  readonly max_iter: number;
  readonly max_leaf_nodes: number;
  readonly min_samples_leaf: number;
}

export interface SklearnResult {
  readonly accuracy: number;
  readonly n_iter: number;
  readonly fit_seconds: number;
  readonly predict_seconds: number;
  /** Per test row (unless `summaryOnly`). */
  readonly predicted?: number[];
  readonly proba?: number[][];
}

function csv(records: readonly TierRecord[]): string {
  return records.map((r) => [...r.features.map((v) => (Number.isNaN(v) ? 'nan' : String(v))), tierIndex(r.label)].join(',')).join('\n') + '\n';
}

/** Fits HistGradientBoostingClassifier in `python` on `train`, scores it on `test`. `threads` sets OMP_NUM_THREADS. */
export function runSklearn(python: string, train: readonly TierRecord[], test: readonly TierRecord[], params: SklearnParams, options: { threads?: number; summaryOnly?: boolean } = {}): SklearnResult {
  const dir = mkdtempSync(join(tmpdir(), 'movingdata-gbdt-'));
  try {
    writeFileSync(join(dir, 'train.csv'), csv(train));
    writeFileSync(join(dir, 'test.csv'), csv(test));
    const args = ['-c', SCRIPT, join(dir, 'train.csv'), join(dir, 'test.csv'), JSON.stringify(params), ...(options.summaryOnly === true ? ['summary'] : [])];
    const env = { ...process.env, ...(options.threads !== undefined ? { OMP_NUM_THREADS: String(options.threads) } : {}) };
    const run = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, timeout: 600_000, env });
    if (run.status !== 0) throw new Error(`scikit-learn run failed (${String(run.status)}): ${run.stderr}`);
    return JSON.parse(run.stdout) as SklearnResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

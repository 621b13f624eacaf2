/** The product's tier model (model.ts): fallback choice, predictions, JSON round trip, metrics. */
import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES, TIERS, type TierRecord } from './features.ts';
import { evaluateTierModel, tierModelFromJSON, trainAndEvaluate, trainTierModel } from './model.ts';
import { syntheticTierRecords } from './synthetic.ts';

const RECORDS = syntheticTierRecords(1500, 21);
const PROBES = syntheticTierRecords(300, 22);

function sumOf(p: Record<string, number>): number {
  return Object.values(p).reduce((a, b) => a + b, 0);
}

describe('trainTierModel', () => {
  it('fits a GBDT on enough records with every tier', () => {
    const model = trainTierModel(RECORDS, { maxIter: 20 });
    expect(model.kind).toBe('gbdt');
    expect(model.fallbackReason).toBeUndefined();
    expect(model.iterations).toBe(20);
    const p = model.predict(PROBES[0]!.features);
    expect(p.kind).toBe('gbdt');
    expect(Object.keys(p.probabilities)).toEqual([...TIERS]);
  });

  it('falls back to nearest centroids when records are few', () => {
    const model = trainTierModel(RECORDS.slice(0, 49));
    expect(model.kind).toBe('centroid');
    expect(model.fallbackReason).toMatch(/49 records/);
    expect(trainTierModel(RECORDS.slice(0, 49), { minRecordsForGbdt: 10 }).kind).toBe('gbdt');
    expect(trainTierModel(RECORDS.slice(0, 60)).kind).toBe('gbdt');
  });

  it('falls back to nearest centroids when a tier is missing from the labels, and never predicts it', () => {
    const withoutCool = RECORDS.filter((r) => r.label !== 'cool');
    const model = trainTierModel(withoutCool);
    expect(model.kind).toBe('centroid');
    expect(model.fallbackReason).toMatch(/cool/);
    for (const r of PROBES) {
      const p = model.predict(r.features);
      expect(p.kind).toBe('centroid');
      expect(p.probabilities.cool).toBe(0);
      expect(p.tier).not.toBe('cool');
    }
  });

  it('puts the centroid model near each class: a training centroid is classified as its class', () => {
    // Two well-separated clusters on one feature (days since last read), third class absent.
    const base = (label: string, days: number): TierRecord => ({ label, features: FEATURE_NAMES.map((n) => (n === 'days_since_last_read' ? days : 1)) });
    const records = [...Array.from({ length: 10 }, (_, i) => base('hot', i * 0.1)), ...Array.from({ length: 10 }, (_, i) => base('cold', 300 + i))];
    const model = trainTierModel(records);
    expect(model.predict(base('hot', 0.5).features).tier).toBe('hot');
    const cold = model.predict(base('cold', 302).features);
    expect(cold.tier).toBe('cold');
    expect(cold.probabilities.cold).toBeGreaterThan(0.8);
  });

  it('gives probabilities that sum to 1, for both kinds', () => {
    for (const model of [trainTierModel(RECORDS, { maxIter: 10 }), trainTierModel(RECORDS.slice(0, 30))]) {
      for (const r of PROBES) {
        const p = model.predict(r.features);
        expect(sumOf(p.probabilities)).toBeCloseTo(1, 12);
        expect(Math.max(...Object.values(p.probabilities))).toBe(p.probabilities[p.tier]);
      }
    }
  });

  it('counts archive labels as cold and refuses unknown labels and wrong feature counts', () => {
    const relabelled = RECORDS.slice(0, 40).map((r) => (r.label === 'cold' ? { ...r, label: 'archive' } : r));
    const a = trainTierModel(relabelled);
    const b = trainTierModel(RECORDS.slice(0, 40));
    expect(PROBES.map((r) => a.predict(r.features))).toEqual(PROBES.map((r) => b.predict(r.features)));
    expect(() => trainTierModel([{ features: RECORDS[0]!.features, label: 'lukewarm' }])).toThrow(/unknown tier/);
    expect(() => b.predict([1, 2, 3])).toThrow(/features/);
  });
});

describe('toJSON / tierModelFromJSON', () => {
  it('round-trips a GBDT and a centroid model to identical predictions', () => {
    for (const model of [trainTierModel(RECORDS, { maxIter: 15 }), trainTierModel(RECORDS.slice(0, 30))]) {
      const text = JSON.stringify(model.toJSON());
      const restored = tierModelFromJSON(JSON.parse(text));
      expect(restored.kind).toBe(model.kind);
      const probes = [...PROBES, { label: 'hot', features: FEATURE_NAMES.map(() => Number.NaN) }];
      expect(probes.map((r) => restored.predict(r.features))).toEqual(probes.map((r) => model.predict(r.features)));
      expect(JSON.stringify(restored.toJSON())).toBe(text);
    }
  });

  it('refuses other formats, versions and feature sets', () => {
    const doc = trainTierModel(RECORDS.slice(0, 30)).toJSON();
    expect(() => tierModelFromJSON({ ...doc, format: 'x' })).toThrow(/not a tier model/);
    expect(() => tierModelFromJSON({ ...doc, version: 2 })).toThrow(/version/);
    expect(() => tierModelFromJSON({ ...doc, featureNames: ['reads_1d'] })).toThrow(/retrain/);
    const gbdt = trainTierModel(RECORDS, { maxIter: 2 }).toJSON();
    const broken = JSON.parse(JSON.stringify(gbdt)) as { gbdt: { trees: { left: number[] }[][] } };
    broken.gbdt.trees[0]![0]!.left[0] = 0;
    expect(() => tierModelFromJSON(broken)).toThrow(/malformed/);
  });
});

describe('metrics on a held-out split', () => {
  it('gives accuracy, log loss and a confusion matrix that agree with the predictions', () => {
    const { model, metrics } = trainAndEvaluate(RECORDS, { maxIter: 30, testFraction: 0.2 });
    expect(model.trainedOn + metrics.count).toBe(RECORDS.length);
    expect(metrics.count).toBe(300);
    expect(metrics.confusion.flat().reduce((a, b) => a + b, 0)).toBe(metrics.count);
    // Rows are the true tiers: each row sums to that tier's count among the held-out records.
    const heldOut = trainAndEvaluate(RECORDS, { maxIter: 1, testFraction: 0.2 }).metrics;
    const truthCounts = TIERS.map((t) => Math.round(RECORDS.filter((r) => r.label === t).length * 0.2));
    expect(metrics.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(truthCounts);
    expect(heldOut.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(truthCounts);
    const diagonal = metrics.confusion.reduce((a, row, i) => a + row[i]!, 0);
    expect(metrics.accuracy).toBeCloseTo(diagonal / metrics.count, 12);
    expect(metrics.accuracy).toBeGreaterThan(0.75);
    expect(metrics.logLoss).toBeGreaterThan(0);
    expect(metrics.logLoss).toBeLessThan(Math.log(3));
    // A perfect hand-made check: log loss of one record is −log of its label's probability.
    const one = RECORDS[0]!;
    const single = evaluateTierModel(model, [one]);
    expect(single.logLoss).toBeCloseTo(-Math.log(model.predict(one.features).probabilities[one.label as 'hot']), 12);
  });
});

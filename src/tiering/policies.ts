/**
 * The product's two policies in the simulator, through the same `Policy` interface as the
 * built-in ones and with the product's own functions, so the evaluation measures what the
 * product does:
 *
 * - `rules alone`: the proposal is the cheapest tier for the expected reads (`cheapestTier`),
 *   confidence 1, then `applyRules`;
 * - `model + rules`: the proposal is the tier model's (`TierModel.predict` on `featureVector`
 *   of the trace features), its probability the confidence, then `applyRules`.
 *
 * Both see what the simulator gives a policy (reads of days before the decision day) through
 * `traceFeatures`; the creation day's decision is the upload's class (`newFile`).
 */
import type { SimClass } from './billing.ts';
import { featureVector, type FileFeatures, type Tier } from './model/features.ts';
import type { TierModel } from './model/model.ts';
import type { PriceTable } from './prices.ts';
import { applyRules, cheapestTier, DEFAULT_RULE_SETTINGS, type RuleSettings } from './rules.ts';
import type { Policy } from './simulate.ts';
import { TIER_TO_SIM, traceFeatures } from './trace-features.ts';

export type ReadsEstimator = (f: FileFeatures) => number;

/**
 * Whole reads expected over the next month, from the trailing windows: the last 30 days' count,
 * but no more than the last 7 days' rate would give once the reads have stopped (a burst that
 * ended a week ago is not expected to come back at its 30-day rate).
 */
export const expectedReadsPerMonth: ReadsEstimator = (f) => {
  const [, r7, r30] = f.reads;
  return Math.min(r30, Math.max(r7 * (30 / 7), r30 / 4));
};

export interface ProductPolicyOptions {
  readonly settings?: RuleSettings;
  readonly readsEstimator?: ReadsEstimator;
  readonly name?: string;
}

interface Proposal {
  readonly tier: Tier;
  readonly confidence: number;
}

function productPolicy(name: string, table: PriceTable, options: ProductPolicyOptions, propose: (f: FileFeatures, readsPerMonth: number) => Proposal): Policy {
  const settings = options.settings ?? DEFAULT_RULE_SETTINGS;
  const estimate = options.readsEstimator ?? expectedReadsPerMonth;
  return {
    name: options.name ?? name,
    decide: (state, history, day): SimClass => {
      const f = traceFeatures({ size: state.size, createdDay: state.createdDay, reads: history.reads, day, current: state.current, daysInClass: state.daysInClass, table });
      const readsPerMonth = estimate(f);
      const p = propose(f, readsPerMonth);
      const d = applyRules(
        {
          size: state.size,
          table,
          current: f.currentTier,
          daysInTier: f.daysInTier,
          proposed: p.tier,
          confidence: p.confidence,
          readsPerMonth,
          latencySpikes: f.latencySpikes,
          newFile: state.current === null,
          idleDays: f.daysSinceLastRead ?? f.ageDays,
          neverRead: f.daysSinceLastRead === null,
        },
        settings,
      );
      // Archive is never chosen automatically and no pin exists in a trace: the tier is online.
      return TIER_TO_SIM[d.tier === 'archive' ? 'cold' : d.tier];
    },
  };
}

/** "Rules alone": the cheapest tier for the expected reads, confidence 1, then the rules. */
export function rulesPolicy(table: PriceTable, options: ProductPolicyOptions = {}): Policy {
  return productPolicy('rules', table, options, (f, readsPerMonth) => {
    const t = cheapestTier(table, f.size, readsPerMonth);
    return { tier: t === 'archive' ? 'cold' : t, confidence: 1 };
  });
}

/** "Model + rules": the model's tier and its probability as confidence, then the rules. */
export function modelRulesPolicy(model: TierModel, table: PriceTable, options: ProductPolicyOptions = {}): Policy {
  return productPolicy('model+rules', table, options, (f) => {
    const p = model.predict(featureVector(f));
    return { tier: p.tier, confidence: p.probabilities[p.tier] };
  });
}

/**
 * The tiering model (issue 15 §2): per-file features in, a recommended tier (hot, cool or cold)
 * with class probabilities out. See model.ts for the API, gbdt.ts for the trees and features.ts
 * for the feature vector the integrator fills.
 */
export { FEATURE_INDEX, FEATURE_NAMES, TIER_ORDER, TIERS, featureVector, type FeatureName, type FileFeatures, type Tier, type TierRecord } from './features.ts';
export {
  evaluateTierModel,
  tierModelFromJSON,
  TIER_MODEL_FORMAT,
  TIER_MODEL_VERSION,
  trainAndEvaluate,
  trainTierModel,
  type TierMetrics,
  type TierModel,
  type TierModelJSON,
  type TierModelKind,
  type TierPrediction,
  type TierProbabilities,
  type TrainTierModelOptions,
} from './model.ts';
export type { GbdtOptions } from './gbdt.ts';

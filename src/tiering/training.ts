/**
 * Training records from a trace, labelled automatically by the offline optimum: for each object
 * and sampled decision day d, the features known online at d (trace-features.ts: reads before d
 * only) and, as label, the class the optimum (optimum.ts, the cheapest schedule in hindsight)
 * holds on day d, mapped to hot / cool / cold. The model so learns to imitate the optimum from
 * what is known online; the rules (rules.ts) then guard its proposals.
 *
 * The features' current tier is the one an online policy would be in (the "rules alone"
 * policy, simulated on the same trace), not the optimum's: the model is used from a policy's
 * states, and the optimum's own previous class would give the label away.
 *
 * The product calls this for POST /predictive/train with `auto_label: true`, on records in the
 * trace format (trace.ts).
 */
import type { BillingRules } from './billing.ts';
import { awsBillingRules, DayBiller, objectCosts, SIM_CLASSES, simClassIndex, type ObjectCosts } from './billing.ts';
import { Rng } from './generate.ts';
import { featureVector, TIERS, type TierRecord } from './model/features.ts';
import { costToGo, optimizeObject, readsFromCreation } from './optimum.ts';
import { rulesPolicy } from './policies.ts';
import type { PriceTables } from './prices.ts';
import { simulate, type ObjectState, type Policy } from './simulate.ts';
import { traceFeatures } from './trace-features.ts';
import type { ReadDay, Trace, TraceObject } from './trace.ts';

export interface TrainingRecordOptions {
  /** A decision day every this many days of each object's life (random phase), plus its creation day. Default 7. */
  readonly sampleEvery?: number;
  /** Seeds the phases. Default 0. */
  readonly seed?: number;
  /**
   * The label is the class the optimum holds for most of the days d .. d + labelDays − 1
   * (ties to the warmer class). Default 1: the optimum's class on day d.
   */
  readonly labelDays?: number;
  /** Objects smaller than this give no records (the rules keep them hot anyway). Default 0. */
  readonly minSize?: number;
  /** The online policy whose simulated classes are the features' current tier. Default "rules alone". */
  readonly statePolicy?: Policy;
  /**
   * `schedule`: the optimum's class on day d (over `labelDays`); `cost-to-go`: the class the
   * optimum would choose on day d from the online policy's state (optimum.ts `costToGo`), the
   * same as `schedule` wherever the policy is where the optimum is. Default `schedule`.
   */
  readonly label?: 'schedule' | 'cost-to-go' | 'rollout';
  /** `rollout` labels: the policy that decides the days after d (default "rules alone") and how many (default 120). */
  readonly rolloutPolicy?: Policy;
  readonly rolloutDays?: number;
  /**
   * `regret`: each record weighs what choosing another class than the label would cost (the
   * mean excess cost-to-go of the other classes), normalised to a mean of 1, so the model
   * learns where mistakes are dear (large objects) rather than where records are many. Default `none`.
   */
  readonly weight?: 'none' | 'regret';
}

/** A training record and where it comes from. */
export interface TraceTrainingRecord extends TierRecord {
  readonly key: string;
  readonly day: number;
}

/**
 * Cost of days i .. i + days of an object put in class `first` on day i (from `current` held
 * `daysIn` days; null = its creation day), `policy` deciding each later day from the reads
 * before it: what choosing `first` costs an online policy, not a clairvoyant one.
 */
function rolloutCost(
  costs: ObjectCosts,
  o: TraceObject,
  dense: Uint32Array,
  i: number,
  current: number | null,
  daysIn: number,
  first: number,
  policy: Policy,
  days: number,
): number {
  const biller = new DayBiller(costs);
  // The biller's state before day i: a stand-in step, its cost taken off again.
  let offset = 0;
  if (current !== null) {
    biller.step(current, 0);
    for (let k = 1; k < Math.min(daysIn, 100); k += 1) biller.step(current, 0);
    offset = biller.total;
  }
  const history: ReadDay[] = [];
  let lastReadDay: number | null = null;
  let totalReads = 0;
  for (const r of o.reads) {
    if (r[0] >= o.createdDay + i) break;
    history.push(r);
    lastReadDay = r[0];
    totalReads += r[1];
  }
  let cls = first;
  let inClass = current === first ? daysIn : 0;
  const end = Math.min(dense.length, i + days);
  for (let t = i; t < end; t += 1) {
    if (t > i) {
      const state: ObjectState = { key: o.key, size: o.size, createdDay: o.createdDay, current: SIM_CLASSES[cls]!, daysInClass: inClass };
      const next = simClassIndex(policy.decide(state, { reads: history, lastReadDay, totalReads }, o.createdDay + t));
      if (next !== cls) inClass = 0;
      cls = next;
    }
    biller.step(cls, dense[t]!);
    inClass += 1;
    if (dense[t]! > 0) {
      history.push([o.createdDay + t, dense[t]!]);
      lastReadDay = o.createdDay + t;
      totalReads += dense[t]!;
    }
  }
  return biller.total - offset;
}

/** Class index per day of each object from the creation day, from a simulated policy's decisions. */
function classPerDay(decisions: ReadonlyArray<readonly [number, string]>, createdDay: number, span: number): Int8Array {
  const out = new Int8Array(span);
  let j = 0;
  let cls = 0;
  for (let i = 0; i < span; i += 1) {
    while (j < decisions.length && decisions[j]![0] <= createdDay + i) cls = simClassIndex(decisions[j++]![1]);
    out[i] = cls;
  }
  return out;
}

export function trainingRecordsFromTrace(trace: Trace, tables: PriceTables, options: TrainingRecordOptions = {}): TraceTrainingRecord[] {
  const every = Math.max(1, Math.floor(options.sampleEvery ?? 7));
  const labelDays = Math.max(1, Math.floor(options.labelDays ?? 1));
  const minSize = options.minSize ?? 0;
  const table = tables.aws;
  const rules: BillingRules = awsBillingRules(table);
  const rng = new Rng(options.seed ?? 0);
  const online = simulate(rules, trace, options.statePolicy ?? rulesPolicy(table)).decisions;
  const rolloutWith = options.rolloutPolicy ?? rulesPolicy(table);
  const rolloutDays = options.rolloutDays ?? 120;
  const out: TraceTrainingRecord[] = [];
  for (const o of trace.objects) {
    const phase = rng.int(0, every);
    if (o.size < minSize) continue;
    const span = trace.days - o.createdDay;
    const { schedule } = optimizeObject(rules, o.size, readsFromCreation(o, trace.days), span);
    const state = classPerDay(online[o.key] ?? [], o.createdDay, span);
    const dense = readsFromCreation(o, trace.days);
    const rollout = options.label === 'rollout';
    const needQ = !rollout && (options.label === 'cost-to-go' || options.weight === 'regret');
    const q = needQ ? costToGo(rules, o.size, dense, span) : undefined;
    const costs = rollout ? objectCosts(rules, o.size) : undefined;
    for (let i = 0; i < span; i += 1) {
      if (i !== 0 && i % every !== phase) continue;
      // Days in the online policy's class before day i (its class on day i - 1).
      let daysIn = 0;
      if (i > 0) {
        const c = state[i - 1]!;
        while (i - 1 - daysIn >= 0 && state[i - 1 - daysIn] === c) daysIn += 1;
      }
      const f = traceFeatures({
        size: o.size,
        createdDay: o.createdDay,
        reads: o.reads,
        day: o.createdDay + i,
        current: i === 0 ? null : SIM_CLASSES[state[i - 1]!]!,
        daysInClass: daysIn,
        table,
      });
      const current = i === 0 ? null : state[i - 1]!;
      const qs =
        costs !== undefined
          ? [0, 1, 2].map((j) => rolloutCost(costs, o, dense, i, current, daysIn, j, rolloutWith, rolloutDays))
          : q === undefined
            ? undefined
            : [0, 1, 2].map((j) => q.q(i, current, daysIn, j));
      let label = 0;
      if ((options.label === 'cost-to-go' || rollout) && qs !== undefined) {
        for (let c = 1; c < qs.length; c += 1) if (qs[c]! < qs[label]!) label = c;
      } else {
        const votes = [0, 0, 0];
        for (let k = i; k < Math.min(span, i + labelDays); k += 1) votes[schedule[k]!]! += 1;
        for (let c = 1; c < votes.length; c += 1) if (votes[c]! > votes[label]!) label = c;
      }
      let weight: number | undefined;
      if (options.weight === 'regret' && qs !== undefined) {
        let excess = 0;
        for (let c = 0; c < qs.length; c += 1) if (c !== label) excess += Math.max(0, qs[c]! - qs[label]!);
        weight = excess / (qs.length - 1);
      }
      out.push({ key: o.key, day: o.createdDay + i, features: featureVector(f), label: TIERS[label]!, ...(weight === undefined ? {} : { weight }) });
    }
  }
  if (options.weight === 'regret') {
    let sum = 0;
    for (const r of out) sum += r.weight ?? 0;
    const mean = sum / Math.max(1, out.length);
    return mean > 0 ? out.map((r) => ({ ...r, weight: (r.weight ?? 0) / mean })) : out;
  }
  return out;
}

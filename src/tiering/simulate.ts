/**
 * The policy simulator: feeds a trace day by day and bills each policy's decisions with the
 * rules of billing.ts. Days are the outer loop, so when any policy decides for day d, every
 * history it can reach (this object's or another's) holds reads of days before d only: a policy
 * cannot peek at the future, by design rather than by convention.
 *
 * Built-in policies: always-hot, the classic lifecycle rule (Standard-IA 30 days after creation,
 * Glacier IR at 90) and S3 Intelligent-Tiering's own rules. The integrator adds "rules alone"
 * and "model + rules" through the same `Policy` interface.
 */
import { MovingDataError } from '../errors.ts';
import type { BillingRules, SimClass } from './billing.ts';
import { DayBiller, IntelligentTieringBiller, SIM_CLASSES, objectCosts, simClassIndex } from './billing.ts';
import type { Decisions } from './optimum.ts';
import type { ReadDay, Trace } from './trace.ts';

export interface ObjectState {
  readonly key: string;
  readonly size: number;
  readonly createdDay: number;
  /** Class on the previous day; null on the creation day (the decision is the upload's class). */
  readonly current: SimClass | null;
  /** Days spent in `current` so far (0 on the creation day). */
  readonly daysInClass: number;
}

export interface AccessHistory {
  /** Reads of days before the decision day, `[day, count]` in day order. */
  readonly reads: readonly ReadDay[];
  readonly lastReadDay: number | null;
  readonly totalReads: number;
}

export interface Policy {
  readonly name: string;
  /** How decisions are billed; `intelligent-tiering` maps the three classes to its levels. */
  readonly billing?: 'classes' | 'intelligent-tiering';
  decide(state: ObjectState, history: AccessHistory, day: number): SimClass;
}

export const alwaysHot: Policy = { name: 'always-hot', decide: () => 'STANDARD' };

/**
 * S3 lifecycle rule: Standard-IA 30 days after creation, Glacier IR 90 days after creation.
 * Objects below `minObjectBytes` stay in Standard: S3's default transition filter since 2024
 * (`all_storage_classes_128K`); pass 0 for the older behaviour that transitions everything.
 */
export function lifecyclePolicy(toIa = 30, toGlacierIr = 90, minObjectBytes = 128 * 1024): Policy {
  return {
    name: minObjectBytes === 128 * 1024 ? `lifecycle-${toIa}/${toGlacierIr}` : `lifecycle-${toIa}/${toGlacierIr}-min${minObjectBytes}`,
    decide: (state, _history, day) => {
      if (state.size < minObjectBytes) return 'STANDARD';
      const age = day - state.createdDay;
      return age >= toGlacierIr ? 'GLACIER_IR' : age >= toIa ? 'STANDARD_IA' : 'STANDARD';
    },
  };
}

/**
 * S3 Intelligent-Tiering: not accessed for 30 days → Infrequent Access, 90 days → Archive
 * Instant Access, any access → back to Frequent. Objects below 128 KiB stay in Frequent (the
 * biller enforces it too). Reported as STANDARD / STANDARD_IA / GLACIER_IR for the levels.
 */
export function intelligentTieringPolicy(rules: BillingRules): Policy {
  const [, toIa, toAia] = rules.intelligentTiering.idleDaysToLevel;
  const min = rules.intelligentTiering.minMonitoredBytes;
  return {
    name: 'intelligent-tiering',
    billing: 'intelligent-tiering',
    decide: (state, history, day) => {
      if (state.size < min) return 'STANDARD';
      // The upload counts as an access; idle days are the whole days since the last one.
      const idle = day - (history.lastReadDay ?? state.createdDay) - 1;
      return idle >= toAia ? 'GLACIER_IR' : idle >= toIa ? 'STANDARD_IA' : 'STANDARD';
    },
  };
}

export interface PolicyResult {
  readonly policy: string;
  readonly total: number;
  readonly perObject: ReadonlyMap<string, number>;
  readonly decisions: Decisions;
}

interface Billing {
  step(cls: number, reads: number): void;
  readonly total: number;
}

interface Live {
  readonly key: string;
  readonly size: number;
  readonly createdDay: number;
  readonly trace: readonly ReadDay[];
  next: number;
  readonly history: ReadDay[];
  lastReadDay: number | null;
  totalReads: number;
  current: SimClass | null;
  daysInClass: number;
  readonly biller: Billing;
  readonly decisions: Array<[number, SimClass]>;
}

export function simulate(rules: BillingRules, trace: Trace, policy: Policy): PolicyResult {
  const live: Live[] = trace.objects.map((o) => ({
    key: o.key,
    size: o.size,
    createdDay: o.createdDay,
    trace: o.reads,
    next: 0,
    history: [],
    lastReadDay: null,
    totalReads: 0,
    current: null,
    daysInClass: 0,
    biller:
      policy.billing === 'intelligent-tiering'
        ? new IntelligentTieringBiller(rules.intelligentTiering, o.size)
        : new DayBiller(objectCosts(rules, o.size)),
    decisions: [],
  }));
  const order = [...live].sort((a, b) => a.createdDay - b.createdDay);
  let active = 0;
  for (let day = 0; day < trace.days; day += 1) {
    while (active < order.length && order[active]!.createdDay <= day) active += 1;
    // Decide for every live object first, then reveal the day's reads: no decision of day d
    // can see a read of day d, even another object's.
    const chosen = new Int8Array(active);
    for (let i = 0; i < active; i += 1) {
      const o = order[i]!;
      const state: ObjectState = Object.freeze({
        key: o.key,
        size: o.size,
        createdDay: o.createdDay,
        current: o.current,
        daysInClass: o.daysInClass,
      });
      const history: AccessHistory = Object.freeze({ reads: o.history, lastReadDay: o.lastReadDay, totalReads: o.totalReads });
      const cls = policy.decide(state, history, day);
      let idx: number;
      try {
        idx = simClassIndex(cls);
      } catch (err) {
        throw new MovingDataError('invalid_argument', `policy ${policy.name} chose ${JSON.stringify(cls)} for ${o.key} on day ${day}`, { cause: err });
      }
      chosen[i] = idx;
    }
    for (let i = 0; i < active; i += 1) {
      const o = order[i]!;
      const cls = SIM_CLASSES[chosen[i]!]!;
      const r = o.trace[o.next];
      const reads = r !== undefined && r[0] === day ? r[1] : 0;
      o.biller.step(chosen[i]!, reads);
      if (cls !== o.current) {
        o.decisions.push([day, cls]);
        o.current = cls;
        o.daysInClass = 0;
      }
      o.daysInClass += 1;
      if (reads > 0) {
        o.next += 1;
        o.history.push(Object.freeze([day, reads] as const));
        o.lastReadDay = day;
        o.totalReads += reads;
      }
    }
  }
  let total = 0;
  const perObject = new Map<string, number>();
  const decisions: Decisions = {};
  for (const o of live) {
    total += o.biller.total;
    perObject.set(o.key, o.biller.total);
    decisions[o.key] = o.decisions;
  }
  return { policy: policy.name, total, perObject, decisions };
}

export function builtinPolicies(rules: BillingRules): Policy[] {
  return [alwaysHot, lifecyclePolicy(30, 90), intelligentTieringPolicy(rules)];
}

/**
 * The rules on top of a tier proposal (the seed's `rules.py`, issue 15 §3): deterministic
 * safeguards that turn a proposal (the model's, or the cost-greedy one of "rules alone") into
 * the tier a file should be in, with every rule's verdict kept as the decision's reasons.
 *
 * One function for the product (recommendations, the enforcement job) and for the simulator
 * (the "rules alone" and "model + rules" policies), on the same price tables: what the
 * evaluation measures is what the product does.
 *
 * Order, first that decides wins:
 *   1. pin: a user pin on the file's prefix puts it there (archive included) and ends the rules;
 *   2. archive: never chosen automatically (a proposal of archive becomes cold; an archived
 *      file stays until a user moves it: leaving needs a restore);
 *   3. latency: a read slower than the threshold (ALERT_LATENCY_MS) in the window forces hot;
 *   4. minimum billable size: a file smaller than the target class bills stays hot;
 *   5. confidence: a proposal below `minConfidence` keeps the current tier;
 *   6. hysteresis: a colder move needs `hysteresisDays` in the current tier and the file idle
 *      (no read) for `minIdleDays` — a reactivated file read from a colder class pays retrieval
 *      per GB on every read, and going back warmer a read back and a rewrite (a warmer move,
 *      which reads demand, is never held back by it), so nothing flaps;
 *   7. payback: the move's cost (transition fee or read-back and rewrite, early deletion) must
 *      be earned back by the expected saving within `horizonDays` (a fixed look-ahead, never
 *      "until the end of the trace"); a move that saves nothing is not made.
 */
import type { TierClass } from '../storage/port.ts';
import { DAYS_PER_MONTH, readCost, storageCostPerDay, transitionCost, writeCost } from './cost.ts';
import type { PriceTable } from './prices.ts';
import { classForTier } from './prices.ts';

export interface RuleSettings {
  /** Look-ahead over which a move must pay for itself (days; default 90). */
  readonly horizonDays: number;
  /** A read at least this slow counts as a latency spike (ALERT_LATENCY_MS). */
  readonly latencySpikeMs: number;
  /** Days a file stays in a tier before it may go colder again (default 14). */
  readonly hysteresisDays: number;
  /** Proposals less confident than this keep the current tier (default 0.5). */
  readonly minConfidence: number;
  /** Days without a read before a colder move (default 180); absent: no such guard. */
  readonly minIdleDays?: number;
  /**
   * The same guard for a file never read since it was written (default 30): it has no
   * reactivation to repeat, and holding it hot for `minIdleDays` is what the guard costs most on
   * large write-once data; absent: `minIdleDays` applies.
   */
  readonly minIdleDaysUnread?: number;
}

export const DEFAULT_RULE_SETTINGS: RuleSettings = Object.freeze({ horizonDays: 90, latencySpikeMs: 1000, hysteresisDays: 14, minConfidence: 0.5, minIdleDays: 180, minIdleDaysUnread: 30 });

export const RULE_NAMES = ['pin', 'archive', 'latency', 'min_size', 'confidence', 'hysteresis', 'payback'] as const;
export type RuleName = (typeof RULE_NAMES)[number];

export interface RuleInput {
  readonly size: number;
  /** Prices of the file's provider. */
  readonly table: PriceTable;
  readonly current: TierClass;
  readonly daysInTier: number;
  /** The proposal: the model's tier, or the cheapest one for the expected reads. */
  readonly proposed: TierClass;
  /** Confidence of the proposal, 0..1 (1 for a rule-made proposal). */
  readonly confidence: number;
  /** Whole-object reads expected per month (e.g. the last 30 days'). */
  readonly readsPerMonth: number;
  /** Slowest recent read latency (ms), or the count of spikes: any spike forces hot. */
  readonly latencySpikes: number;
  /** The tier pinned by a user on the file's prefix, if any. */
  readonly pin?: TierClass;
  /**
   * The decision is the class of a file being written (an upload), not a move: `current` is the
   * class it would be written to by default; hysteresis does not apply, and the move's cost is
   * only the difference of the two writes (no transition, no early deletion).
   */
  readonly newFile?: boolean;
  /** Days since the last read (or since written, never read); absent: unknown, not guarded. */
  readonly idleDays?: number;
  /** No read since the file was written (as far as the access statistics go). */
  readonly neverRead?: boolean;
}

export type Verdict = 'pass' | 'applied' | 'blocked' | 'skipped';

export interface RuleOutcome {
  readonly rule: RuleName;
  /** `applied`: the rule chose the tier; `blocked`: it kept the current one; `pass`: no effect. */
  readonly verdict: Verdict;
  readonly detail: string;
}

export interface RuleDecision {
  readonly tier: TierClass;
  /** The proposal as it reached the payback rule (after pins, guards and latency). */
  readonly proposed: TierClass;
  readonly outcomes: readonly RuleOutcome[];
  /** Expected saving per month of being in `tier` rather than `current` (0 when they are equal). */
  readonly expectedMonthlySaving: number;
  /** One-off cost of the move to `tier` (0 when none). */
  readonly moveCost: number;
}

const ORDER: readonly TierClass[] = ['hot', 'cool', 'cold', 'archive'];
const coldness = (t: TierClass): number => ORDER.indexOf(t);

/** Expected cost per day of `size` bytes in `tier` with `readsPerMonth` whole reads. */
export function dailyCost(table: PriceTable, tier: TierClass, size: number, readsPerMonth: number): number {
  const cls = classForTier(table, tier);
  return storageCostPerDay(size, cls) + readCost(size, cls, readsPerMonth / DAYS_PER_MONTH);
}

/** The online tier (hot, cool, cold) cheapest per day for the expected reads: "rules alone"'s proposal. */
export function cheapestTier(table: PriceTable, size: number, readsPerMonth: number): TierClass {
  let best: TierClass = 'hot';
  let bestCost = dailyCost(table, 'hot', size, readsPerMonth);
  for (const t of ['cool', 'cold'] as const) {
    const c = dailyCost(table, t, size, readsPerMonth);
    if (c < bestCost) [best, bestCost] = [t, c];
  }
  return best;
}

/** One-off cost of putting the file in `to` instead of `input.current`: a move, or for a new file the dearer write. */
function oneOffCost(input: RuleInput, to: TierClass): number {
  if (to === input.current) return 0;
  const from = classForTier(input.table, input.current);
  const dest = classForTier(input.table, to);
  if (input.newFile === true) return Math.max(0, writeCost(dest) - writeCost(from));
  return transitionCost(input.size, from, dest, input.daysInTier).total;
}

const money = (n: number): string => `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 4)}`;

export function applyRules(input: RuleInput, settings: RuleSettings = DEFAULT_RULE_SETTINGS): RuleDecision {
  const outcomes: RuleOutcome[] = [];
  const { table, current, size } = input;
  const done = (tier: TierClass, proposed: TierClass): RuleDecision => {
    const moving = tier !== current;
    const saving = moving ? (dailyCost(table, current, size, input.readsPerMonth) - dailyCost(table, tier, size, input.readsPerMonth)) * DAYS_PER_MONTH : 0;
    const cost = moving ? oneOffCost(input, tier) : 0;
    for (const rule of RULE_NAMES) if (!outcomes.some((o) => o.rule === rule)) outcomes.push({ rule, verdict: 'skipped', detail: 'an earlier rule decided' });
    return { tier, proposed, outcomes, expectedMonthlySaving: saving, moveCost: cost };
  };

  if (input.pin !== undefined) {
    outcomes.push({ rule: 'pin', verdict: 'applied', detail: `pinned to ${input.pin} by a user` });
    return done(input.pin, input.pin);
  }
  outcomes.push({ rule: 'pin', verdict: 'pass', detail: 'no pin on this prefix' });

  let proposed = input.proposed;
  if (current === 'archive') {
    outcomes.push({ rule: 'archive', verdict: 'blocked', detail: 'archived by a user; leaving needs a restore and a user request' });
    return done('archive', proposed);
  }
  if (proposed === 'archive') {
    proposed = 'cold';
    outcomes.push({ rule: 'archive', verdict: 'applied', detail: 'archive is never chosen automatically; cold instead' });
  } else {
    outcomes.push({ rule: 'archive', verdict: 'pass', detail: 'not archive' });
  }

  if (input.latencySpikes > 0) {
    outcomes.push({ rule: 'latency', verdict: 'applied', detail: `${input.latencySpikes} read(s) at or over ${settings.latencySpikeMs} ms: forced hot` });
    proposed = 'hot';
  } else {
    outcomes.push({ rule: 'latency', verdict: 'pass', detail: `no read at or over ${settings.latencySpikeMs} ms` });
  }

  const minBillable = classForTier(table, proposed).minBillableBytes.value;
  if (proposed !== 'hot' && size < minBillable) {
    outcomes.push({ rule: 'min_size', verdict: 'applied', detail: `${size} B is under ${table.tiers[proposed]}'s ${minBillable} B minimum billable size: stays hot` });
    proposed = 'hot';
  } else {
    outcomes.push({ rule: 'min_size', verdict: 'pass', detail: proposed === 'hot' ? 'hot has no minimum' : `${size} B ≥ ${minBillable} B` });
  }

  const forced = input.latencySpikes > 0;
  if (!forced && proposed !== current && input.confidence < settings.minConfidence) {
    outcomes.push({ rule: 'confidence', verdict: 'blocked', detail: `confidence ${input.confidence.toFixed(2)} < ${settings.minConfidence}: keeps ${current}` });
    return done(current, proposed);
  }
  outcomes.push({ rule: 'confidence', verdict: 'pass', detail: `confidence ${input.confidence.toFixed(2)}` });

  if (proposed === current) {
    outcomes.push({ rule: 'hysteresis', verdict: 'pass', detail: `already ${current}` });
    outcomes.push({ rule: 'payback', verdict: 'pass', detail: 'no move' });
    return done(current, proposed);
  }
  if (input.newFile !== true && coldness(proposed) > coldness(current) && input.daysInTier < settings.hysteresisDays) {
    outcomes.push({ rule: 'hysteresis', verdict: 'blocked', detail: `${input.daysInTier} day(s) in ${current} < ${settings.hysteresisDays}: no colder move yet` });
    return done(current, proposed);
  }
  const minIdle = input.neverRead === true ? (settings.minIdleDaysUnread ?? settings.minIdleDays) : settings.minIdleDays;
  if (coldness(proposed) > coldness(current) && minIdle !== undefined && input.idleDays !== undefined && input.idleDays < minIdle) {
    const what = input.neverRead === true ? 'never read, written' : 'idle';
    outcomes.push({ rule: 'hysteresis', verdict: 'blocked', detail: `${what} ${input.idleDays} day(s) < ${minIdle}: no colder move yet` });
    return done(current, proposed);
  }
  outcomes.push({ rule: 'hysteresis', verdict: 'pass', detail: input.newFile === true ? 'a new file: no move' : `${input.daysInTier} day(s) in ${current}` });

  if (forced) {
    outcomes.push({ rule: 'payback', verdict: 'pass', detail: 'forced by latency' });
    return done(proposed, proposed);
  }
  const savingPerDay = dailyCost(table, current, size, input.readsPerMonth) - dailyCost(table, proposed, size, input.readsPerMonth);
  const cost = oneOffCost(input, proposed);
  const earned = savingPerDay * settings.horizonDays;
  if (savingPerDay <= 0 || cost >= earned) {
    outcomes.push({
      rule: 'payback',
      verdict: 'blocked',
      detail: `move costs ${money(cost)}, saves ${money(earned)} over ${settings.horizonDays} days: keeps ${current}`,
    });
    return done(current, proposed);
  }
  outcomes.push({ rule: 'payback', verdict: 'pass', detail: `move costs ${money(cost)}, saves ${money(earned)} over ${settings.horizonDays} days` });
  return done(proposed, proposed);
}

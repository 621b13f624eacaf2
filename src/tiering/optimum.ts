/**
 * The offline optimum: the cheapest schedule in hindsight for each object, by dynamic
 * programming over (class, days in class) with days capped at the class's minimum duration
 * (beyond it, leaving costs no early-deletion charge, so longer stays are one state).
 *
 * It is the yardstick the policies are measured against, so it must be exact under the billing
 * rules of billing.ts; optimum.test.ts checks it against every schedule enumerated on small cases.
 * Cost per object is O(days × states), states = Σ max(1, minDays) = 1 + 30 + 90 for AWS.
 */
import type { BillingRules } from './billing.ts';
import { SIM_CLASSES, objectCosts } from './billing.ts';
import type { SimClass } from './billing.ts';
import type { Trace, TraceObject } from './trace.ts';
import { denseReads } from './trace.ts';

export interface ObjectOptimum {
  readonly cost: number;
  /** Class index per day from the object's creation to the end of the trace. */
  readonly schedule: Int8Array;
}

/**
 * Optimum for one object observed for `span` days (readsPerDay[i] = reads on its i-th day).
 * `frozen[i]` truthy forbids a change of class on day i (i ≥ 1): the optimum of a policy that
 * must live with day i's reads in the class it held the day before (an unforeseeable burst).
 */
export function optimizeObject(rules: BillingRules, size: number, readsPerDay: ArrayLike<number>, span: number, frozen?: ArrayLike<number | boolean>): ObjectOptimum {
  const c = objectCosts(rules, size);
  const n = c.n;
  const cap = new Int32Array(n);
  const offset = new Int32Array(n + 1);
  for (let i = 0; i < n; i += 1) {
    cap[i] = Math.max(1, c.minDays[i]!);
    offset[i + 1] = offset[i]! + cap[i]!;
  }
  const states = offset[n]!;
  const stateClass = new Int32Array(states);
  const early = new Float64Array(states);
  for (let i = 0; i < n; i += 1) {
    for (let k = 1; k <= cap[i]!; k += 1) {
      stateClass[offset[i]! + k - 1] = i;
      early[offset[i]! + k - 1] = c.early(i, k);
    }
  }
  let v = new Float64Array(states).fill(Number.POSITIVE_INFINITY);
  let next = new Float64Array(states);
  // back[d * states + s]: the state on day d - 1 that led to s on day d.
  const back = new Int32Array(Math.max(1, span) * states).fill(-1);
  const r0 = readsPerDay[0] ?? 0;
  for (let i = 0; i < n; i += 1) v[offset[i]!] = c.put[i]! + c.day[i]! + r0 * c.read[i]!;
  const bestLeave = new Float64Array(n);
  const bestLeaveState = new Int32Array(n);
  for (let d = 1; d < span; d += 1) {
    const r = readsPerDay[d] ?? 0;
    next.fill(Number.POSITIVE_INFINITY);
    bestLeave.fill(Number.POSITIVE_INFINITY);
    for (let s = 0; s < states; s += 1) {
      const vs = v[s]!;
      if (vs === Number.POSITIVE_INFINITY) continue;
      const i = stateClass[s]!;
      const k = s - offset[i]! + 1;
      // Stay: one more day in the class (capped).
      const to = offset[i]! + Math.min(k + 1, cap[i]!) - 1;
      const stay = vs + c.day[i]! + r * c.read[i]!;
      if (stay < next[to]!) {
        next[to] = stay;
        back[d * states + to] = s;
      }
      const leave = vs + early[s]!;
      if (leave < bestLeave[i]!) {
        bestLeave[i] = leave;
        bestLeaveState[i] = s;
      }
    }
    // Switch: enter class j on day d from the cheapest way of leaving another class.
    const locked = frozen !== undefined && Boolean(frozen[d]);
    for (let j = 0; j < n && !locked; j += 1) {
      const to = offset[j]!;
      for (let i = 0; i < n; i += 1) {
        if (i === j || bestLeave[i] === Number.POSITIVE_INFINITY) continue;
        const cost = bestLeave[i]! + c.fee[i * n + j]! + c.day[j]! + r * c.read[j]!;
        if (cost < next[to]!) {
          next[to] = cost;
          back[d * states + to] = bestLeaveState[i]!;
        }
      }
    }
    [v, next] = [next, v];
  }
  let best = 0;
  for (let s = 1; s < states; s += 1) if (v[s]! < v[best]!) best = s;
  const schedule = new Int8Array(span);
  let s = best;
  for (let d = span - 1; d >= 0; d -= 1) {
    schedule[d] = stateClass[s]!;
    if (d > 0) s = back[d * states + s]!;
  }
  return { cost: v[best]!, schedule };
}

export type Decisions = Record<string, Array<[number, SimClass]>>;

/** Class changes as `[day, class]` pairs, the first one on the creation day. */
export function scheduleToDecisions(createdDay: number, schedule: ArrayLike<number>): Array<[number, SimClass]> {
  const out: Array<[number, SimClass]> = [];
  let prev = -1;
  for (let i = 0; i < schedule.length; i += 1) {
    const c = schedule[i]!;
    if (c !== prev) out.push([createdDay + i, SIM_CLASSES[c]!]);
    prev = c;
  }
  return out;
}

export interface TraceOptimum {
  readonly total: number;
  readonly perObject: ReadonlyMap<string, number>;
  readonly decisions: Decisions;
}

export function optimizeTrace(rules: BillingRules, trace: Trace): TraceOptimum {
  let total = 0;
  const perObject = new Map<string, number>();
  const decisions: Decisions = {};
  for (const o of trace.objects) {
    const { cost, schedule } = optimizeObject(rules, o.size, readsFromCreation(o, trace.days), trace.days - o.createdDay);
    total += cost;
    perObject.set(o.key, cost);
    decisions[o.key] = scheduleToDecisions(o.createdDay, schedule);
  }
  return { total, perObject, decisions };
}

export function readsFromCreation(o: TraceObject, days: number): Uint32Array {
  return denseReads(o, days).subarray(o.createdDay);
}

/**
 * The optimum's cost-to-go for one object: `q(i, current, daysInClass, j)` is the cheapest cost
 * of its days i .. span − 1 (i = days since creation) when it holds `current` for
 * `daysInClass` days before day i and is put in class j on day i, every later day then optimal in
 * hindsight. On the creation day (i = 0) `current` is null: the cost starts with the upload into
 * j. So `min over j of q(0, null, 0, j)` is `optimizeObject`'s cost, and `argmin over j` from
 * any state is the class the optimum would choose from there: the label of a state the online
 * policy is in rather than the optimum's own.
 */
export interface CostToGo {
  readonly span: number;
  q(day: number, current: number | null, daysInClass: number, next: number): number;
}

export function costToGo(rules: BillingRules, size: number, readsPerDay: ArrayLike<number>, span: number): CostToGo {
  const c = objectCosts(rules, size);
  const n = c.n;
  const cap = new Int32Array(n);
  const offset = new Int32Array(n + 1);
  for (let i = 0; i < n; i += 1) {
    cap[i] = Math.max(1, c.minDays[i]!);
    offset[i + 1] = offset[i]! + cap[i]!;
  }
  const states = offset[n]!;
  const stateOf = (cls: number, k: number): number => offset[cls]! + Math.min(Math.max(1, k), cap[cls]!) - 1;
  // v[d * states + s]: cheapest cost of days d .. span − 1 entering day d in state s; v[span] = 0.
  const v = new Float64Array((span + 1) * states);
  const step = (d: number, cls: number, k: number, j: number): number => {
    const r = readsPerDay[d] ?? 0;
    if (j === cls) return c.day[j]! + r * c.read[j]! + v[(d + 1) * states + stateOf(j, k + 1)]!;
    return c.early(cls, k) + c.fee[cls * n + j]! + c.day[j]! + r * c.read[j]! + v[(d + 1) * states + stateOf(j, 1)]!;
  };
  for (let d = span - 1; d >= 1; d -= 1) {
    for (let cls = 0; cls < n; cls += 1) {
      for (let k = 1; k <= cap[cls]!; k += 1) {
        let best = Number.POSITIVE_INFINITY;
        for (let j = 0; j < n; j += 1) best = Math.min(best, step(d, cls, k, j));
        v[d * states + stateOf(cls, k)] = best;
      }
    }
  }
  return {
    span,
    q: (day, current, daysInClass, next) => {
      if (day < 0 || day >= span) throw new RangeError(`cost-to-go: day ${day} outside 0..${span - 1}`);
      if (current === null || day === 0) {
        const r = readsPerDay[0] ?? 0;
        return c.put[next]! + c.day[next]! + r * c.read[next]! + (span > 1 ? v[states + stateOf(next, 1)]! : 0);
      }
      return step(day, current, daysInClass, next);
    },
  };
}

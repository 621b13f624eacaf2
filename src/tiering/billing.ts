/**
 * Billing rules of the tiering evaluation, exactly as the simulator and the offline optimum
 * apply them: AWS us-east-1 list prices over the three online classes STANDARD, STANDARD_IA and
 * GLACIER_IR (archive is never automatic), a day at the monthly price ÷ 30, every read a
 * whole-object GET, 128 KiB minimum billable size for IA and Glacier IR, 30/90-day minimum
 * durations charged when an object leaves a class early, lifecycle transition fees going colder,
 * a read back and rewrite going warmer. The upload is a PUT into the first day's class. At the
 * end of the trace nothing is charged: objects are not deleted, they simply stop being observed.
 *
 * S3 Intelligent-Tiering is billed by its own rules (its levels' storage prices, a monitoring fee
 * for objects ≥ 128 KiB, GET fees only, no transition or early-deletion charges).
 *
 * The `DayBiller` below is the one way a schedule is charged; the optimum's dynamic programme
 * (optimum.ts) is written independently and checked against it by brute force.
 */
import { MovingDataError } from '../errors.ts';
import {
  DAYS_PER_MONTH,
  GIB,
  earlyDeletionCharge,
  readCost,
  storageCostPerDay,
  transitionCost,
  writeCost,
} from './cost.ts';
import type { ClassPrices, PriceTable } from './prices.ts';
import { priceClass } from './prices.ts';

export const SIM_CLASSES = ['STANDARD', 'STANDARD_IA', 'GLACIER_IR'] as const;
export type SimClass = (typeof SIM_CLASSES)[number];

export function simClassIndex(name: string): number {
  const i = (SIM_CLASSES as readonly string[]).indexOf(name);
  if (i < 0) throw new MovingDataError('invalid_argument', `not a simulator class: ${JSON.stringify(name)} (one of ${SIM_CLASSES.join(', ')})`);
  return i;
}

export interface IntelligentTieringRules {
  readonly monitoringPerObjectDay: number;
  readonly minMonitoredBytes: number;
  /** Storage price per GB-day of the Frequent, Infrequent and Archive Instant levels. */
  readonly levelPerGbDay: readonly [number, number, number];
  readonly idleDaysToLevel: readonly [number, number, number];
  readonly get: ClassPrices;
}

export interface BillingRules {
  /** In the order of SIM_CLASSES. */
  readonly classes: readonly ClassPrices[];
  readonly intelligentTiering: IntelligentTieringRules;
}

export function awsBillingRules(aws: PriceTable): BillingRules {
  const it = aws.autoTiering['INTELLIGENT_TIERING'];
  if (it === undefined || it.levels.length < 3) {
    throw new MovingDataError('config_invalid', 'aws price table: autoTiering.INTELLIGENT_TIERING needs three levels');
  }
  const lv = it.levels;
  const perDay = (i: number): number => lv[i]!.storagePerGbMonth.value / DAYS_PER_MONTH;
  return {
    classes: SIM_CLASSES.map((c) => priceClass(aws, c)),
    intelligentTiering: {
      monitoringPerObjectDay: it.monitoringPer1000ObjectsMonth.value / 1000 / DAYS_PER_MONTH,
      minMonitoredBytes: it.minMonitoredBytes.value,
      levelPerGbDay: [perDay(0), perDay(1), perDay(2)],
      idleDaysToLevel: [lv[0]!.afterDaysIdle.value, lv[1]!.afterDaysIdle.value, lv[2]!.afterDaysIdle.value],
      get: priceClass(aws, 'INTELLIGENT_TIERING'),
    },
  };
}

/** Every per-object figure the billing needs, computed once per object. */
export interface ObjectCosts {
  readonly n: number;
  readonly put: Float64Array;
  readonly day: Float64Array;
  readonly read: Float64Array;
  /** fee[from * n + to]: transition fee or read back + rewrite, without early deletion. */
  readonly fee: Float64Array;
  readonly minDays: Int32Array;
  early(cls: number, daysInClass: number): number;
}

export function objectCosts(rules: BillingRules, size: number): ObjectCosts {
  const cs = rules.classes;
  const n = cs.length;
  const put = new Float64Array(n);
  const day = new Float64Array(n);
  const read = new Float64Array(n);
  const fee = new Float64Array(n * n);
  const minDays = new Int32Array(n);
  for (let i = 0; i < n; i += 1) {
    const c = cs[i]!;
    put[i] = writeCost(c);
    day[i] = storageCostPerDay(size, c);
    read[i] = readCost(size, c);
    minDays[i] = c.minDurationDays.value;
    for (let j = 0; j < n; j += 1) fee[i * n + j] = i === j ? 0 : transitionCost(size, c, cs[j]!, Number.POSITIVE_INFINITY).transfer;
  }
  return { n, put, day, read, fee, minDays, early: (c, k) => earlyDeletionCharge(size, cs[c]!, k) };
}

/** Charges one object day by day; `step` is called for each day from its creation, in order. */
export class DayBiller {
  readonly #costs: ObjectCosts;
  #cls = -1;
  #daysIn = 0;
  total = 0;

  constructor(costs: ObjectCosts) {
    this.#costs = costs;
  }

  get current(): number {
    return this.#cls;
  }

  get daysInClass(): number {
    return this.#daysIn;
  }

  step(cls: number, reads: number): void {
    const c = this.#costs;
    if (this.#cls < 0) {
      this.total += c.put[cls]!;
      this.#cls = cls;
      this.#daysIn = 0;
    } else if (cls !== this.#cls) {
      this.total += c.early(this.#cls, this.#daysIn) + c.fee[this.#cls * c.n + cls]!;
      this.#cls = cls;
      this.#daysIn = 0;
    }
    this.total += c.day[cls]! + reads * c.read[cls]!;
    this.#daysIn += 1;
  }
}

/** Cost of a schedule given as one class index per day from the object's creation to the end. */
export function scheduleCost(rules: BillingRules, size: number, readsPerDay: ArrayLike<number>, schedule: ArrayLike<number>): number {
  const biller = new DayBiller(objectCosts(rules, size));
  for (let i = 0; i < schedule.length; i += 1) biller.step(schedule[i]!, readsPerDay[i] ?? 0);
  return biller.total;
}

/** S3 Intelligent-Tiering: levels 0..2 (Frequent, Infrequent, Archive Instant). */
export class IntelligentTieringBiller {
  readonly #dayByLevel: readonly [number, number, number];
  readonly #monitoring: number;
  readonly #read: number;
  readonly #small: boolean;
  total: number;

  constructor(rules: IntelligentTieringRules, size: number) {
    const gb = size / GIB;
    this.#dayByLevel = [gb * rules.levelPerGbDay[0], gb * rules.levelPerGbDay[1], gb * rules.levelPerGbDay[2]];
    this.#small = size < rules.minMonitoredBytes;
    this.#monitoring = this.#small ? 0 : rules.monitoringPerObjectDay;
    this.#read = readCost(size, rules.get);
    this.total = writeCost(rules.get);
  }

  step(level: number, reads: number): void {
    // Objects below the monitoring minimum always stay in Frequent Access.
    const l = this.#small ? 0 : level;
    this.total += this.#dayByLevel[l as 0 | 1 | 2] + this.#monitoring + reads * this.#read;
  }
}

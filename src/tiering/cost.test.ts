import { beforeAll, describe, expect, it } from 'vitest';
import { DayBiller, awsBillingRules, objectCosts } from './billing.ts';
import {
  GIB,
  billableBytes,
  earlyDeletionCharge,
  estimateMonthlyCost,
  moveCost,
  readCost,
  storageCostPerDay,
  storageCostPerMonth,
  totalsPerLocation,
  transitionCost,
} from './cost.ts';
import type { ClassPrices, PriceTables } from './prices.ts';
import { loadPriceTables } from './prices.ts';

let tables: PriceTables;
let S: ClassPrices;
let IA: ClassPrices;
let GIR: ClassPrices;
beforeAll(async () => {
  tables = await loadPriceTables();
  S = tables.aws.classes['STANDARD']!;
  IA = tables.aws.classes['STANDARD_IA']!;
  GIR = tables.aws.classes['GLACIER_IR']!;
});

// Every expected figure below is worked out by hand from the AWS us-east-1 list prices.
describe('cost model (hand-computed cases)', () => {
  it('bills at least 128 KiB in Standard-IA and Glacier IR, the real size in Standard', () => {
    expect(billableBytes(1024, IA)).toBe(131072);
    expect(billableBytes(1024, GIR)).toBe(131072);
    expect(billableBytes(1024, S)).toBe(1024);
    // 128 KiB = 1/8192 GB; × $0.0125.
    expect(storageCostPerMonth(1024, IA)).toBeCloseTo(0.0125 / 8192, 15);
    expect(storageCostPerMonth(GIB, S)).toBeCloseTo(0.023, 12);
    expect(storageCostPerDay(GIB, S)).toBeCloseTo(0.023 / 30, 12);
  });

  it('charges the remaining minimum duration when an object leaves early', () => {
    expect(earlyDeletionCharge(GIB, IA, 10)).toBeCloseTo((20 * 0.0125) / 30, 12);
    expect(earlyDeletionCharge(GIB, GIR, 30)).toBeCloseTo((60 * 0.004) / 30, 12);
    expect(earlyDeletionCharge(GIB, GIR, 90)).toBe(0);
    expect(earlyDeletionCharge(GIB, S, 0)).toBe(0);
    // Small objects owe it on their billable 128 KiB.
    expect(earlyDeletionCharge(1, IA, 0)).toBeCloseTo((30 * 0.0125) / 8192 / 30, 15);
  });

  it('prices reads as request fee plus retrieval per GB of the real size', () => {
    // 3 × (0.001/1000 + 0.5 GB × $0.01).
    expect(readCost(GIB / 2, IA, 3)).toBeCloseTo(3 * (0.000001 + 0.005), 12);
    expect(readCost(GIB, S, 1000)).toBeCloseTo(0.0004, 12);
    expect(readCost(2 * GIB, GIR)).toBeCloseTo(0.00001 + 0.06, 12);
  });

  it('prices transitions: a fee going colder, a read back and rewrite going warmer', () => {
    const colder = transitionCost(GIB, S, GIR, 5);
    expect(colder.total).toBeCloseTo(0.00002, 12);
    const warmer = transitionCost(2 * GIB, GIR, S, 100);
    expect(warmer.total).toBeCloseTo(0.00001 + 0.06 + 0.000005, 12);
    const earlyWarm = transitionCost(GIB, IA, S, 10);
    expect(earlyWarm.earlyDeletion).toBeCloseTo((20 * 0.0125) / 30, 12);
    expect(earlyWarm.total).toBeCloseTo((20 * 0.0125) / 30 + 0.000001 + 0.01 + 0.000005, 12);
  });

  it('adds egress for a move across providers', () => {
    const m = moveCost(tables, GIB, { provider: 'aws', className: 'STANDARD' }, { provider: 'gcp', className: 'NEARLINE' }, 400);
    expect(m.egress).toBeCloseTo(0.09, 12);
    expect(m.total).toBeCloseTo(0.0000004 + 0.09 + 0.00001, 12);
    const same = moveCost(tables, GIB, { provider: 'azure', className: 'Hot' }, { provider: 'azure', className: 'Cool' }, 0);
    expect(same.egress).toBe(0);
    expect(same.total).toBeCloseTo(0.00001, 12);
  });

  it('estimates a file per month and totals per location', () => {
    const file = { provider: 'aws' as const, className: 'INTELLIGENT_TIERING', size: GIB, readsPerMonth: 10, autoTier: 'INTELLIGENT_TIERING' };
    const est = estimateMonthlyCost(tables, file);
    expect(est.monitoring).toBeCloseTo(0.0000025, 15);
    expect(est.total).toBeCloseTo(0.023 + 10 * 0.0000004 + 0.0000025, 12);
    const small = estimateMonthlyCost(tables, { ...file, size: 1000 });
    expect(small.monitoring).toBe(0);
    const totals = totalsPerLocation(tables, [file, { ...file, className: 'STANDARD' }, { ...file, className: 'STANDARD' }]);
    expect(totals.get('aws/STANDARD')!.files).toBe(2);
    expect(totals.get('aws/STANDARD')!.monthly).toBeCloseTo(2 * (0.023 + 0.000004 + 0.0000025), 12);
  });

  it('bills a day-by-day schedule the same way (upload, transition, early return)', () => {
    const rules = awsBillingRules(tables.aws);
    const b = new DayBiller(objectCosts(rules, GIB));
    b.step(0, 2); // STANDARD, 2 reads
    b.step(1, 0); // → STANDARD_IA (transition fee)
    b.step(0, 0); // → back to STANDARD after 1 day in IA: 29 days early + read back + rewrite
    const expected =
      0.000005 + 0.023 / 30 + 2 * 0.0000004 +
      0.00001 + 0.0125 / 30 +
      (29 * 0.0125) / 30 + 0.000001 + 0.01 + 0.000005 + 0.023 / 30;
    expect(b.total).toBeCloseTo(expected, 12);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import type { BillingRules } from './billing.ts';
import { awsBillingRules, scheduleCost } from './billing.ts';
import { generateTrace } from './generate.ts';
import { readsFromCreation } from './optimum.ts';
import { loadPriceTables } from './prices.ts';
import type { Policy } from './simulate.ts';
import { alwaysHot, intelligentTieringPolicy, lifecyclePolicy, simulate } from './simulate.ts';
import type { Trace } from './trace.ts';

let rules: BillingRules;
beforeAll(async () => {
  rules = awsBillingRules((await loadPriceTables()).aws);
});

/** Every [day, count] pair reachable from a value, however deep. */
function reachableReadDays(value: unknown, seen = new Set<unknown>()): number[] {
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'number') return [value[0]];
  const out: number[] = [];
  for (const v of Object.values(value as Record<string, unknown>)) out.push(...reachableReadDays(v, seen));
  return out;
}

const MIB = 2 ** 20;

describe('simulator', () => {
  it('never lets a policy see a read of the decision day or later, even one it kept from earlier', () => {
    const trace = generateTrace({ seed: 9, objects: 60, days: 60 });
    // Histories are fresh per call but share each object's read list; keeping the distinct
    // pieces keeps the walk linear while still covering everything a policy could have kept.
    const kept = new Set<unknown>();
    let checks = 0;
    let seenPast = 0;
    const peeker: Policy = {
      name: 'peeker',
      decide: (state, history, day) => {
        kept.add(history.reads);
        // Everything it holds now, from this call and every earlier one, this object or others.
        const days = reachableReadDays([state, history, [...kept]]);
        let latest = -1;
        for (const d of days) latest = Math.max(latest, d);
        if (latest >= day) throw new Error(`saw a read of day ${latest} while deciding day ${day}`);
        checks += 1;
        seenPast += days.length;
        return 'STANDARD';
      },
    };
    simulate(rules, trace, peeker);
    expect(checks).toBeGreaterThan(1000);
    expect(seenPast).toBeGreaterThan(0);
  });

  it('shows a policy exactly the past reads, in order', () => {
    const trace: Trace = { days: 6, provider: 'aws', objects: [{ key: 'k', size: MIB, createdDay: 1, reads: [[1, 2], [3, 1], [5, 4]] }] };
    const seen: string[] = [];
    simulate(rules, trace, {
      name: 'recorder',
      decide: (state, h, day) => {
        seen.push(`${day}:${JSON.stringify(h.reads)}:${h.lastReadDay}:${h.totalReads}:${state.current}:${state.daysInClass}`);
        return 'STANDARD';
      },
    });
    expect(seen).toEqual([
      '1:[]:null:0:null:0',
      '2:[[1,2]]:1:2:STANDARD:1',
      '3:[[1,2]]:1:2:STANDARD:2',
      '4:[[1,2],[3,1]]:3:3:STANDARD:3',
      '5:[[1,2],[3,1]]:3:3:STANDARD:4',
    ]);
  });

  it('moves objects by the lifecycle rule (IA at 30 days after creation, Glacier IR at 90)', () => {
    const trace: Trace = { days: 200, provider: 'aws', objects: [{ key: 'k', size: MIB, createdDay: 10, reads: [[50, 1]] }] };
    const r = simulate(rules, trace, lifecyclePolicy());
    expect(r.decisions['k']).toEqual([[10, 'STANDARD'], [40, 'STANDARD_IA'], [100, 'GLACIER_IR']]);
    const reads = readsFromCreation(trace.objects[0]!, 200);
    const schedule = Array.from({ length: 190 }, (_, i) => (i >= 90 ? 2 : i >= 30 ? 1 : 0));
    expect(r.total).toBeCloseTo(scheduleCost(rules, MIB, reads, schedule), 12);
    // Below 128 KiB, S3's default lifecycle filter leaves objects in Standard; without it they move.
    const small: Trace = { days: 100, provider: 'aws', objects: [{ key: 's', size: 4096, createdDay: 0, reads: [] }] };
    expect(simulate(rules, small, lifecyclePolicy()).decisions['s']).toEqual([[0, 'STANDARD']]);
    expect(simulate(rules, small, lifecyclePolicy(30, 90, 0)).decisions['s']).toEqual([[0, 'STANDARD'], [30, 'STANDARD_IA'], [90, 'GLACIER_IR']]);
  });

  it('follows Intelligent-Tiering rules and bills them: monitoring ≥ 128 KiB, small objects stay Frequent', () => {
    const trace: Trace = {
      days: 200,
      provider: 'aws',
      objects: [
        { key: 'big', size: 2 ** 30, createdDay: 0, reads: [[100, 1]] },
        { key: 'small', size: 1000, createdDay: 0, reads: [] },
      ],
    };
    const r = simulate(rules, trace, intelligentTieringPolicy(rules));
    // Upload day 0 is an access: 30 idle days later (day 31) IA, day 91 Archive Instant; the read
    // on day 100 brings it back to Frequent on day 101, then IA on day 131, Archive Instant on 191.
    expect(r.decisions['big']).toEqual([
      [0, 'STANDARD'], [31, 'STANDARD_IA'], [91, 'GLACIER_IR'], [101, 'STANDARD'], [131, 'STANDARD_IA'], [191, 'GLACIER_IR'],
    ]);
    expect(r.decisions['small']).toEqual([[0, 'STANDARD']]);
    const day = (p: number): number => p / 30;
    const big =
      0.005 / 1000 +
      31 * day(0.023) + 60 * day(0.0125) + 10 * day(0.004) + 30 * day(0.023) + 60 * day(0.0125) + 9 * day(0.004) +
      200 * day(0.0025 / 1000) + 0.0004 / 1000;
    expect(r.perObject.get('big')).toBeCloseTo(big, 12);
    expect(r.perObject.get('small')).toBeCloseTo(0.005 / 1000 + 200 * day(0.023) * (1000 / 2 ** 30), 15);
  });

  it('refuses a policy that answers with a class it may not use', () => {
    const trace: Trace = { days: 3, provider: 'aws', objects: [{ key: 'k', size: 1, createdDay: 0, reads: [] }] };
    const bad = { name: 'bad', decide: () => 'DEEP_ARCHIVE' } as unknown as Policy;
    expect(() => simulate(rules, trace, bad)).toThrow(/policy bad chose "DEEP_ARCHIVE" for k on day 0/);
  });

  it('bills always-hot as Standard storage plus GETs', () => {
    const trace: Trace = { days: 30, provider: 'aws', objects: [{ key: 'k', size: 2 ** 30, createdDay: 0, reads: [[3, 10]] }] };
    expect(simulate(rules, trace, alwaysHot).total).toBeCloseTo(0.005 / 1000 + 0.023 + 10 * 0.0004 / 1000, 12);
  });
});

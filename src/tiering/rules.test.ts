/** Each rule of rules.ts on its own, on the AWS list prices (Standard, Standard-IA, Glacier IR). */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPriceTables, type PriceTable } from './prices.ts';
import { applyRules, cheapestTier, DEFAULT_RULE_SETTINGS, type RuleInput } from './rules.ts';

const GiB = 2 ** 30;
let aws: PriceTable;
beforeAll(async () => {
  aws = (await loadPriceTables()).aws;
});

const base = (over: Partial<RuleInput> = {}): RuleInput => ({ size: 10 * GiB, table: aws, current: 'hot', daysInTier: 200, proposed: 'cold', confidence: 0.9, readsPerMonth: 0, latencySpikes: 0, ...over });
const verdict = (d: ReturnType<typeof applyRules>, rule: string) => d.outcomes.find((o) => o.rule === rule)?.verdict;

describe('tiering rules', () => {
  it('an idle 10 GiB file in hot goes cold when nothing holds it, with a positive saving and every rule recorded', () => {
    const d = applyRules(base());
    expect(d.tier).toBe('cold');
    expect(d.expectedMonthlySaving).toBeGreaterThan(0.15);
    expect(d.outcomes.map((o) => o.rule)).toEqual(['pin', 'archive', 'latency', 'min_size', 'confidence', 'hysteresis', 'payback']);
  });

  it('a pin decides, archive included, before every other rule', () => {
    const d = applyRules(base({ pin: 'archive', latencySpikes: 3 }));
    expect(d.tier).toBe('archive');
    expect(verdict(d, 'pin')).toBe('applied');
    expect(verdict(d, 'latency')).toBe('skipped');
  });

  it('archive is never chosen automatically, and an archived file stays until a user moves it', () => {
    expect(applyRules(base({ proposed: 'archive' })).tier).toBe('cold');
    const kept = applyRules(base({ current: 'archive', proposed: 'hot', readsPerMonth: 100 }));
    expect(kept.tier).toBe('archive');
    expect(verdict(kept, 'archive')).toBe('blocked');
  });

  it('a latency spike forces hot', () => {
    const d = applyRules(base({ current: 'cool', latencySpikes: 1, confidence: 0.1 }));
    expect(d.tier).toBe('hot');
    expect(verdict(d, 'latency')).toBe('applied');
  });

  it('a file under the minimum billable size (128 KiB for IA and Glacier IR) stays hot', () => {
    const d = applyRules(base({ size: 100 * 1024 }));
    expect(d.tier).toBe('hot');
    expect(verdict(d, 'min_size')).toBe('applied');
    expect(verdict(applyRules(base({ size: 200 * 1024 })), 'min_size')).toBe('pass');
  });

  it('a proposal below the confidence threshold keeps the tier', () => {
    const d = applyRules(base({ confidence: DEFAULT_RULE_SETTINGS.minConfidence - 0.01 }));
    expect(d.tier).toBe('hot');
    expect(verdict(d, 'confidence')).toBe('blocked');
  });

  it('hysteresis holds a colder move for its days in tier, never a warmer one', () => {
    const held = applyRules(base({ current: 'cool', daysInTier: 3 }));
    expect(held.tier).toBe('cool');
    expect(verdict(held, 'hysteresis')).toBe('blocked');
    const warmer = applyRules(base({ current: 'cold', daysInTier: 100, proposed: 'hot', readsPerMonth: 60 }));
    expect(warmer.tier).toBe('hot');
  });

  it('hysteresis also holds a colder move until the file has been idle minIdleDays (180 by default); unknown idleness is not held', () => {
    const recent = applyRules(base({ idleDays: 100 }));
    expect(recent.tier).toBe('hot');
    expect(recent.outcomes.find((o) => o.rule === 'hysteresis')?.detail).toContain('idle 100');
    expect(applyRules(base({ idleDays: 200 })).tier).toBe('cold');
    expect(applyRules(base({ idleDays: 100 }), { ...DEFAULT_RULE_SETTINGS, minIdleDays: 30 }).tier).toBe('cold');
  });

  it('a file never read since it was written waits minIdleDaysUnread (30 by default) instead, a file read before the full 180', () => {
    expect(applyRules(base({ idleDays: 40, neverRead: true })).tier).toBe('cold');
    const young = applyRules(base({ idleDays: 20, neverRead: true }));
    expect(young.tier).toBe('hot');
    expect(young.outcomes.find((o) => o.rule === 'hysteresis')?.detail).toContain('never read, written 20 day(s) < 30');
    expect(applyRules(base({ idleDays: 40, neverRead: false })).tier).toBe('hot');
    // Without its own setting the unread file waits minIdleDays as every other.
    const { minIdleDaysUnread: _unread, ...without } = DEFAULT_RULE_SETTINGS;
    expect(applyRules(base({ idleDays: 40, neverRead: true }), without).tier).toBe('hot');
  });

  it('payback: a move whose early deletion exceeds its saving over the horizon is not made; one that pays back is', () => {
    // Ten days into Glacier IR's 90-day minimum, going back to hot for one read a month costs
    // 80 days of early deletion, far more than the retrievals it saves within 90 days.
    const early = applyRules(base({ current: 'cold', daysInTier: 10, proposed: 'hot', readsPerMonth: 1 }));
    expect(early.tier).toBe('cold');
    expect(verdict(early, 'payback')).toBe('blocked');
    // Read 50 times a month, the retrievals ($0.03/GB each) pay for it many times over.
    expect(applyRules(base({ current: 'cold', daysInTier: 10, proposed: 'hot', readsPerMonth: 50 })).tier).toBe('hot');
    // A move that saves nothing is not made (a busy file proposed cold).
    const busy = applyRules(base({ readsPerMonth: 100 }));
    expect(busy.tier).toBe('hot');
    expect(verdict(busy, 'payback')).toBe('blocked');
  });

  it('cheapestTier: hot when read often, colder when idle', () => {
    expect(cheapestTier(aws, 10 * GiB, 100)).toBe('hot');
    expect(cheapestTier(aws, 10 * GiB, 0)).toBe('cold');
  });
});

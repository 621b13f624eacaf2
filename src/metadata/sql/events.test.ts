/** Access statistics' trailing windows on an in-memory PGlite store (the tiering features). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessStatEvent, MetadataStore } from '../port.ts';
import { openPgliteStore } from '../pglite/pglite-store.ts';

describe('access statistics windows', () => {
  let store: MetadataStore;
  beforeAll(async () => {
    store = await openPgliteStore({ inMemory: true });
  });
  afterAll(async () => store?.close());

  const day = (d: number) => new Date(Date.UTC(2026, 0, 1) + d * 86_400_000);
  let n = 0;
  const read = (key: string, d: number, bytes = 100, latencyMs = 10): AccessStatEvent => ({ eventId: `e${n++}`, location: 'aws', key, at: day(d), kind: 'read', bytes, latencyMs, spike: latencyMs > 500, synthetic: false });

  it('sums reads and bytes over 1, 7, 30 and 90 days as of a day, with last read/write and latency', async () => {
    const asOf = day(100);
    const events = [read('a', 100), read('a', 97), read('a', 80), read('a', 20), read('a', 5), read('a', 100, 100, 900), read('b', 60)];
    events.push({ eventId: `e${n++}`, location: 'aws', key: 'a', at: day(50), kind: 'write', bytes: 5, latencyMs: null, spike: false, synthetic: false });
    expect(await store.accessStats.apply('g', events)).toBe(8);
    const rows = await store.accessStats.windows({ asOf });
    const a = rows.find((r) => r.key === 'a')!;
    // Day 100 twice (1d), + day 97 (7d), + day 80 (30d: > day 70), + day 20 (90d: > day 10); day 5 is out.
    expect(a.reads).toEqual([2, 3, 4, 5]);
    expect(a.bytesRead).toEqual([200, 300, 400, 500]);
    expect(a.lastReadAt?.toISOString()).toBe(day(100).toISOString());
    expect(a.lastWriteAt?.toISOString()).toBe(day(50).toISOString());
    expect(a.meanLatencyMs30).toBeCloseTo((10 + 10 + 10 + 900) / 4, 6);
    expect(a.spikes30).toBe(1);
    const b = rows.find((r) => r.key === 'b')!;
    expect(b.reads).toEqual([0, 0, 0, 1]);
    expect(b.meanLatencyMs30).toBeNull();
    // The same event twice in one batch, and again later: counted once.
    const twice = read('c', 100);
    expect(await store.accessStats.apply('g', [twice, { ...twice }])).toBe(1);
    expect(await store.accessStats.apply('g', [twice])).toBe(0);
    expect((await store.accessStats.summary('aws', 'c')).days[0]?.reads).toBe(1);
    // Keyset pages.
    const first = await store.accessStats.windows({ asOf, limit: 1 });
    expect(first.map((r) => r.key)).toEqual(['a']);
    expect((await store.accessStats.windows({ asOf, after: { location: 'aws', key: 'a' } })).map((r) => r.key)).toEqual(['b', 'c']);
  });
});

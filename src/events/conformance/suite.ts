/**
 * The event bus conformance suite: every adapter (Kafka, the embedded log, the in-memory bus)
 * runs exactly these tests, through one call from a few-line test file:
 *
 *   runEventBusConformance({ name: 'kafka', open: async () => new KafkaBus({...}), uniqueTopic });
 *
 * `open` returns a new client of one shared bus each call (two calls = two processes), so the
 * group tests can run two members. Every wait is a poll with a deadline, never a fixed sleep;
 * redelivery checks rely on the port's ordering (a partition's records come in offset order, so
 * a redelivered old record would arrive before the new ones the test waits for).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/until.ts';
import { partitionOf, type DeliveredRecord, type EventBus, type OutgoingRecord, type SubscribeOptions, type Subscription, type TopicPartition } from '../port.ts';

export interface EventBusConformanceOptions {
  readonly name: string;
  /** A new client of the same bus (a second call is a second process on the same topics). */
  open(): Promise<EventBus>;
  /** A topic name no other test uses. */
  uniqueTopic(): string;
  /** How long a test waits for deliveries and rebalances (default 30 s). */
  readonly settleMs?: number;
}

/** What a test-side consumer saw. */
interface Collector {
  readonly subscription: Subscription;
  readonly batches: DeliveredRecord[][];
  /** Every record handed to the handler by a call that resolved, in delivery order. */
  readonly records: DeliveredRecord[];
  readonly errors: unknown[];
}

interface Payload {
  readonly key: string;
  readonly seq: number;
  readonly tag: string;
}

const payloadOf = (record: DeliveredRecord): Payload => JSON.parse(record.value) as Payload;
const idOf = (record: { readonly partition: number; readonly offset: bigint }): string => `${record.partition}@${record.offset}`;
const distinct = (records: readonly DeliveredRecord[]): Set<string> => new Set(records.map(idOf));

/** `count` records per key, seq 0..count-1, keyed `key` and tagged `tag`. */
function recordsFor(topic: string, keys: readonly string[], count: number, tag: string): OutgoingRecord[] {
  const records: OutgoingRecord[] = [];
  for (let seq = 0; seq < count; seq += 1) {
    for (const key of keys) records.push({ topic, key, value: JSON.stringify({ key, seq, tag }), headers: { tag, seq: String(seq) } });
  }
  return records;
}

/** Keys that land on every one of `partitions` partitions (at least `perPartition` each). */
function keysCovering(partitions: number, perPartition: number, prefix = 'k'): string[] {
  const counts = new Array<number>(partitions).fill(0);
  const keys: string[] = [];
  for (let i = 0; counts.some((c) => c < perPartition); i += 1) {
    const key = `${prefix}-${i}`;
    const p = partitionOf(key, partitions);
    if (counts[p]! >= perPartition) continue;
    counts[p]! += 1;
    keys.push(key);
  }
  return keys;
}

function sortedTps(tps: readonly TopicPartition[]): string[] {
  return tps.map((tp) => `${tp.topic}:${tp.partition}`).sort();
}

export function runEventBusConformance(options: EventBusConformanceOptions): void {
  const settle = options.settleMs ?? 30_000;

  describe(`event bus conformance: ${options.name}`, () => {
    const opened: EventBus[] = [];
    const open = async (): Promise<EventBus> => {
      const bus = await options.open();
      opened.push(bus);
      return bus;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((bus) => bus.close()));
    });

    const group = (): string => `g-${randomBytes(4).toString('hex')}`;

    async function collect(bus: EventBus, subscribe: Omit<SubscribeOptions, 'handler'>, before?: (batch: readonly DeliveredRecord[]) => Promise<void>): Promise<Collector> {
      const batches: DeliveredRecord[][] = [];
      const records: DeliveredRecord[] = [];
      const errors: unknown[] = [];
      const subscription = await bus.subscribe({
        ...subscribe,
        onError: (err) => errors.push(err),
        handler: async (batch) => {
          await before?.(batch);
          batches.push([...batch]);
          records.push(...batch);
        },
      });
      return { subscription, batches, records, errors };
    }

    const waitFor = (what: string, probe: () => boolean | Promise<boolean>, timeoutMs = settle): Promise<true> =>
      until(what, async () => ((await probe()) ? true : undefined), timeoutMs, 50);

    const totalLag = async (bus: EventBus, g: string, topic: string): Promise<bigint> => (await bus.lag(g, [topic])).reduce((sum, p) => sum + p.lag, 0n);

    it('ensureTopics creates missing topics and is idempotent; an existing topic keeps its partition count', async () => {
      const bus = await open();
      const [a, b] = [options.uniqueTopic(), options.uniqueTopic()];
      await bus.ensureTopics([{ name: a, partitions: 3 }]);
      await bus.ensureTopics([{ name: a, partitions: 3 }, { name: b, partitions: 2 }]);
      const other = await open();
      await other.ensureTopics([{ name: a, partitions: 5 }]);
      expect((await bus.lag(group(), [a])).map((p) => p.partition).sort()).toEqual([0, 1, 2]);
      expect((await other.lag(group(), [b])).map((p) => p.partition).sort()).toEqual([0, 1]);
      expect(await bus.health()).toEqual({ reachable: true });
    });

    it('publish to a topic never created rejects with not_found; an empty publish resolves', async () => {
      const bus = await open();
      const err = await bus.publish([{ topic: options.uniqueTopic(), key: 'k', value: 'v' }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'MovingDataError', code: 'not_found' });
      await bus.publish([]);
    });

    it('delivers the records of each key in publish order, in batches of one partition in offset order', async () => {
      const bus = await open();
      const topic = options.uniqueTopic();
      await bus.ensureTopics([{ name: topic, partitions: 3 }]);
      const keys = keysCovering(3, 2);
      const all = recordsFor(topic, keys, 20, 'order');
      for (let i = 0; i < all.length; i += 30) await bus.publish(all.slice(i, i + 30));
      const seen = await collect(bus, { group: group(), topics: [topic], maxBatch: 7 });
      await waitFor(`${all.length} records`, () => seen.records.length >= all.length);
      expect(seen.records).toHaveLength(all.length);
      for (const batch of seen.batches) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(7);
        expect(new Set(batch.map((r) => `${r.topic}:${r.partition}`)).size).toBe(1);
        batch.forEach((r, i) => {
          if (i > 0) expect(r.offset).toBe(batch[i - 1]!.offset + 1n);
        });
      }
      for (const key of keys) {
        const mine = seen.records.filter((r) => r.key === key);
        expect(mine.map((r) => payloadOf(r).seq)).toEqual([...Array(20).keys()]);
        expect(mine.every((r) => r.headers['tag'] === 'order' && r.headers['seq'] === String(payloadOf(r).seq))).toBe(true);
        expect(mine.every((r) => r.timestamp instanceof Date && !Number.isNaN(r.timestamp.getTime()))).toBe(true);
      }
      expect(seen.errors).toEqual([]);
    });

    it('records of many keys across partitions all arrive, each from partition partitionOf(key, n)', async () => {
      const bus = await open();
      const topic = options.uniqueTopic();
      await bus.ensureTopics([{ name: topic, partitions: 5 }]);
      const keys = Array.from({ length: 200 }, (_, i) => `device-${i}/${'é'.repeat(i % 3)}`);
      await bus.publish(recordsFor(topic, keys, 2, 'many'));
      const seen = await collect(bus, { group: group(), topics: [topic] });
      await waitFor('400 records', () => seen.records.length >= 400);
      expect(distinct(seen.records).size).toBe(400);
      for (const r of seen.records) {
        expect(r.topic).toBe(topic);
        expect(r.partition, `key ${r.key}`).toBe(partitionOf(r.key, 5));
        expect(payloadOf(r).key).toBe(r.key);
      }
      expect(new Set(seen.records.map((r) => r.partition)).size).toBe(5);
    });

    it('at least once: a handler that throws gets its batch again, nothing skipped', async () => {
      const bus = await open();
      const topic = options.uniqueTopic();
      await bus.ensureTopics([{ name: topic, partitions: 2 }]);
      const keys = keysCovering(2, 3);
      await bus.publish(recordsFor(topic, keys, 10, 'alo'));
      let failed: DeliveredRecord[] | undefined;
      const seen = await collect(bus, { group: group(), topics: [topic], maxBatch: 5 }, async (batch) => {
        if (failed === undefined) {
          failed = [...batch];
          throw new Error('handler failed once on purpose');
        }
      });
      await waitFor('60 records', () => distinct(seen.records).size >= 60);
      expect(failed).toBeDefined();
      const handled = distinct(seen.records);
      for (const r of failed ?? []) expect(handled.has(idOf(r)), `failed record ${idOf(r)} redelivered`).toBe(true);
      expect(seen.errors.map((e) => String(e))).toContain('Error: handler failed once on purpose');
      // Nothing skipped: every partition's handled offsets run from 0 without a gap.
      for (const p of [0, 1]) {
        const offsets = [...new Set(seen.records.filter((r) => r.partition === p).map((r) => r.offset))].sort((x, y) => (x < y ? -1 : 1));
        expect(offsets).toEqual(offsets.map((_, i) => BigInt(i)));
      }
      const g = seen.subscription;
      expect(g.assignments().length).toBe(2);
    });

    it('committed offsets survive a consumer restart: the group resumes after them', async () => {
      const producer = await open();
      const topic = options.uniqueTopic();
      const g = group();
      await producer.ensureTopics([{ name: topic, partitions: 2 }]);
      const keys = keysCovering(2, 2);
      await producer.publish(recordsFor(topic, keys, 10, 'first'));
      const bus1 = await open();
      const first = await collect(bus1, { group: g, topics: [topic] });
      await waitFor('the first 40 records', () => first.records.length >= 40);
      await waitFor('their offsets committed', async () => (await totalLag(producer, g, topic)) === 0n);
      await first.subscription.close();
      await bus1.close();

      await producer.publish(recordsFor(topic, keys, 5, 'second'));
      expect(await totalLag(producer, g, topic)).toBe(20n);
      const bus2 = await open();
      const second = await collect(bus2, { group: g, topics: [topic] });
      await waitFor('the next 20 records', () => second.records.filter((r) => payloadOf(r).tag === 'second').length >= 20);
      expect(second.records.filter((r) => payloadOf(r).tag === 'first')).toEqual([]);
      expect(distinct(second.records).size).toBe(20);
      await waitFor('lag 0', async () => (await totalLag(producer, g, topic)) === 0n);
    });

    it('two members of a group split the partitions; when one leaves the other takes them over', async () => {
      const topic = options.uniqueTopic();
      const g = group();
      const [busA, busB] = [await open(), await open()];
      await busA.ensureTopics([{ name: topic, partitions: 4 }]);
      const a = await collect(busA, { group: g, topics: [topic] });
      await waitFor('A holding all 4 partitions', () => a.subscription.assignments().length === 4);
      const b = await collect(busB, { group: g, topics: [topic] });
      const all = sortedTps([0, 1, 2, 3].map((partition) => ({ topic, partition })));
      await waitFor('A and B splitting the partitions', () => {
        const [pa, pb] = [sortedTps(a.subscription.assignments()), sortedTps(b.subscription.assignments())];
        return pa.length > 0 && pb.length > 0 && [...pa, ...pb].sort().join() === all.join();
      });
      const keys = keysCovering(4, 3);
      await busA.publish(recordsFor(topic, keys, 5, 'split'));
      const total = keys.length * 5;
      await waitFor(`${total} records between A and B`, () => new Set([...distinct(a.records), ...distinct(b.records)]).size >= total);
      const [partsA, partsB] = [new Set(a.records.map((r) => r.partition)), new Set(b.records.map((r) => r.partition))];
      expect(partsA.size).toBeGreaterThan(0);
      expect(partsB.size).toBeGreaterThan(0);
      expect([...partsA].filter((p) => partsB.has(p))).toEqual([]);
      expect(sortedTps([...partsA].map((partition) => ({ topic, partition })))).toEqual(sortedTps(a.subscription.assignments()));

      await a.subscription.close();
      await busA.close();
      await waitFor('B holding all 4 partitions', () => b.subscription.assignments().length === 4);
      await busB.publish(recordsFor(topic, keys, 3, 'rest'));
      await waitFor('B getting the rest', () => b.records.filter((r) => payloadOf(r).tag === 'rest').length >= keys.length * 3);
      const union = new Set([...distinct(a.records), ...distinct(b.records)]);
      expect(union.size).toBe(keys.length * 8);
      expect(new Set(b.records.filter((r) => payloadOf(r).tag === 'rest').map((r) => r.partition)).size).toBe(4);
    });

    it("a new group subscribed from 'latest' gets only what is published after subscribe resolves", async () => {
      const bus = await open();
      const topic = options.uniqueTopic();
      await bus.ensureTopics([{ name: topic, partitions: 2 }]);
      const keys = keysCovering(2, 2);
      await bus.publish(recordsFor(topic, keys, 3, 'old'));
      const seen = await collect(bus, { group: group(), topics: [topic], from: 'latest' });
      expect(seen.subscription.assignments()).toHaveLength(2);
      await bus.publish(recordsFor(topic, keys, 3, 'new'));
      await waitFor('the new records', () => seen.records.filter((r) => payloadOf(r).tag === 'new').length >= keys.length * 3);
      expect(seen.records.filter((r) => payloadOf(r).tag === 'old')).toEqual([]);
      expect(distinct(seen.records).size).toBe(keys.length * 3);
    });

    it('lag reports the backlog per partition and drops to 0 once consumed', async () => {
      const bus = await open();
      const topic = options.uniqueTopic();
      const g = group();
      await bus.ensureTopics([{ name: topic, partitions: 3 }]);
      const keys = keysCovering(3, 2);
      await bus.publish(recordsFor(topic, keys, 5, 'lag'));
      const before = await bus.lag(g, [topic]);
      expect(before.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
      for (const p of before) {
        const expected = BigInt(keys.filter((k) => partitionOf(k, 3) === p.partition).length * 5);
        expect(p).toEqual({ topic, partition: p.partition, committed: 0n, end: expected, lag: expected });
      }
      const seen = await collect(bus, { group: g, topics: [topic] });
      await waitFor('lag 0', async () => (await totalLag(bus, g, topic)) === 0n);
      expect(distinct(seen.records).size).toBe(keys.length * 5);
      for (const p of await bus.lag(g, [topic])) expect(p.committed).toBe(p.end);
    });
  });
}

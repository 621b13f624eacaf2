/**
 * The embedded event bus: Kafka's model (topics of partitions, offsets, consumer groups that
 * split the partitions and take over from each other) on the metadata store's tables
 * (`EventLog`, migrations/006_events.ts), for when KAFKA_BOOTSTRAP is unset. Durable across
 * restarts like the rest of the metadata; on PostgreSQL several processes share it.
 *
 * Group membership is by heartbeat: each member records itself every `heartbeatMs`; members
 * silent for `sessionMs` are dropped. The partitions of the subscribed topics, sorted, go to the
 * live members, sorted, round robin, so every member computes the same assignment from the same
 * list. Between a join and the next heartbeats two members may briefly both read a partition:
 * delivery is at least once, and offsets only move forward (`commit` keeps the greatest).
 *
 * Publishing wakes this process's own subscribers at once, so a record published here is
 * handled within milliseconds; records from other processes are found by polling (`pollMs`).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MovingDataError } from '../../errors.ts';
import type { EventLog } from '../../metadata/index.ts';
import { partitionOf, type BusHealth, type DeliveredRecord, type EventBus, type OutgoingRecord, type PartitionLag, type SubscribeOptions, type Subscription, type TopicPartition, type TopicSpec } from '../port.ts';

export interface EmbeddedBusOptions {
  /** How often an idle member looks for records published by other processes. */
  readonly pollMs?: number;
  readonly heartbeatMs?: number;
  /** A member silent this long has left the group. */
  readonly sessionMs?: number;
}

export class EmbeddedBus implements EventBus {
  readonly kind = 'embedded' as const;
  readonly #log: EventLog;
  readonly #pollMs: number;
  readonly #heartbeatMs: number;
  readonly #sessionMs: number;
  readonly #partitions = new Map<string, number>();
  readonly #wake = new EventEmitter();
  readonly #subscriptions = new Set<EmbeddedSubscription>();

  constructor(log: EventLog, options: EmbeddedBusOptions = {}) {
    this.#log = log;
    this.#pollMs = options.pollMs ?? 250;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#sessionMs = options.sessionMs ?? 10_000;
    this.#wake.setMaxListeners(0);
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    for (const topic of topics) this.#partitions.set(topic.name, await this.#log.ensureTopic(topic.name, topic.partitions));
  }

  async #partitionCount(topic: string): Promise<number> {
    const known = this.#partitions.get(topic);
    if (known !== undefined && known > 0) return known;
    const count = await this.#log.partitions(topic);
    if (count === 0) throw new MovingDataError('not_found', `no topic ${topic} on the embedded bus (ensureTopics creates it)`, { retryable: false });
    this.#partitions.set(topic, count);
    return count;
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const placed = [];
    for (const r of records) {
      const partition = partitionOf(r.key, await this.#partitionCount(r.topic));
      placed.push({ topic: r.topic, partition, key: r.key, value: r.value, headers: r.headers ?? {} });
    }
    await this.#log.append(placed);
    for (const topic of new Set(records.map((r) => r.topic))) this.#wake.emit(topic);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    for (const topic of options.topics) await this.#partitionCount(topic);
    const subscription = new EmbeddedSubscription(this.#log, options, { pollMs: this.#pollMs, heartbeatMs: this.#heartbeatMs, sessionMs: this.#sessionMs }, this.#wake, (topic) => this.#partitions.get(topic) ?? 0);
    this.#subscriptions.add(subscription);
    await subscription.start();
    return {
      assignments: () => subscription.assignments(),
      close: async () => {
        this.#subscriptions.delete(subscription);
        await subscription.close();
      },
    };
  }

  async lag(group: string, topics: readonly string[]): Promise<readonly PartitionLag[]> {
    const [committed, ends] = await Promise.all([this.#log.committed(group, topics), this.#log.endOffsets(topics)]);
    const at = new Map(committed.map((c) => [`${c.topic}\u0000${c.partition}`, c.offset]));
    return ends.map((end) => {
      const done = at.get(`${end.topic}\u0000${end.partition}`) ?? 0n;
      return { topic: end.topic, partition: end.partition, committed: done, end: end.offset, lag: end.offset > done ? end.offset - done : 0n };
    });
  }

  async health(): Promise<BusHealth> {
    try {
      await this.#log.endOffsets([]);
      return { reachable: true };
    } catch (err) {
      return { reachable: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    this.#subscriptions.clear();
  }
}

interface Timing {
  readonly pollMs: number;
  readonly heartbeatMs: number;
  readonly sessionMs: number;
}

class EmbeddedSubscription {
  readonly #log: EventLog;
  readonly #options: SubscribeOptions;
  readonly #timing: Timing;
  readonly #wake: EventEmitter;
  readonly #partitionsOf: (topic: string) => number;
  readonly #member = `member-${randomUUID()}`;
  readonly #stop = new AbortController();
  /** Next offset to read, per owned partition. */
  readonly #next = new Map<string, bigint>();
  #owned: TopicPartition[] = [];
  #lastHeartbeat = 0;
  #loop: Promise<void> | undefined;
  #nudge: (() => void) | undefined;
  /** A publish happened since the last look. */
  #woken = false;

  constructor(log: EventLog, options: SubscribeOptions, timing: Timing, wake: EventEmitter, partitionsOf: (topic: string) => number) {
    this.#log = log;
    this.#options = options;
    this.#timing = timing;
    this.#wake = wake;
    this.#partitionsOf = partitionsOf;
  }

  assignments(): readonly TopicPartition[] {
    return [...this.#owned];
  }

  async start(): Promise<void> {
    await this.#rebalance();
    const onWake = () => {
      this.#woken = true;
      this.#nudge?.();
    };
    for (const topic of this.#options.topics) this.#wake.on(topic, onWake);
    this.#stop.signal.addEventListener('abort', () => {
      for (const topic of this.#options.topics) this.#wake.off(topic, onWake);
      this.#nudge?.();
    });
    this.#loop = this.#run();
  }

  async close(): Promise<void> {
    if (this.#stop.signal.aborted) return this.#loop;
    this.#stop.abort();
    await this.#loop;
    await this.#log.leave(this.#options.group, this.#member).catch(() => undefined);
  }

  async #rebalance(): Promise<void> {
    const members = await this.#log.heartbeat(this.#options.group, this.#member, this.#options.topics, this.#timing.sessionMs);
    this.#lastHeartbeat = Date.now();
    const all: TopicPartition[] = [];
    for (const topic of [...this.#options.topics].sort()) for (let p = 0; p < this.#partitionsOf(topic); p += 1) all.push({ topic, partition: p });
    const index = members.indexOf(this.#member);
    const owned = index < 0 ? [] : all.filter((_, i) => i % members.length === index);
    const id = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;
    const keep = new Set(owned.map(id));
    for (const key of [...this.#next.keys()]) if (!keep.has(key)) this.#next.delete(key);
    const fresh = owned.filter((tp) => !this.#next.has(id(tp)));
    if (fresh.length > 0) {
      // Where the group left off (another member may have moved it), else earliest or latest.
      const [committed, ends] = await Promise.all([this.#log.committed(this.#options.group, this.#options.topics), this.#options.from === 'latest' ? this.#log.endOffsets(this.#options.topics) : Promise.resolve([])]);
      for (const tp of fresh) {
        const done = committed.find((c) => c.topic === tp.topic && c.partition === tp.partition)?.offset;
        const end = ends.find((e) => e.topic === tp.topic && e.partition === tp.partition)?.offset;
        this.#next.set(id(tp), done ?? end ?? 0n);
      }
    }
    this.#owned = owned;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (Date.now() - this.#lastHeartbeat >= this.#timing.heartbeatMs) await this.#rebalance();
        let delivered = 0;
        for (const tp of this.#owned) {
          if (signal.aborted) break;
          delivered += await this.#deliver(tp);
        }
        failures = 0;
        if (delivered === 0) await this.#idle();
      } catch (err) {
        failures += 1;
        this.#options.onError?.(err);
        // Backoff: 100 ms doubling to 5 s, then the same batch again (nothing was committed).
        await sleep(Math.min(5000, 100 * 2 ** Math.min(failures - 1, 6)), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Hands one batch of `tp` to the handler and commits it; resolves with how many records. */
  async #deliver(tp: TopicPartition): Promise<number> {
    const key = `${tp.topic}\u0000${tp.partition}`;
    const from = this.#next.get(key);
    if (from === undefined) return 0;
    const rows = await this.#log.read(tp.topic, tp.partition, from, this.#options.maxBatch ?? 500);
    if (rows.length === 0) return 0;
    const batch: DeliveredRecord[] = rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, headers: r.headers, timestamp: r.createdAt }));
    await this.#options.handler(batch);
    const next = batch[batch.length - 1]!.offset + 1n;
    await this.#log.commit(this.#options.group, tp.topic, tp.partition, next);
    // Still ours (a rebalance during the handler may have taken it): move on.
    if (this.#next.has(key)) this.#next.set(key, next);
    return batch.length;
  }

  /** Waits for a publish in this process, the poll interval, or the next heartbeat. */
  async #idle(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    const wait = Math.min(this.#timing.pollMs, Math.max(1, this.#timing.heartbeatMs - (Date.now() - this.#lastHeartbeat)));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#nudge = done;
    });
    this.#nudge = undefined;
    this.#woken = false;
  }
}

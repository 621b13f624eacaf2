/**
 * An in-memory event bus with the port's semantics (src/events/port.ts), for fast unit tests of
 * producers and consumers: partitioned topics placed by `partitionOf`, consumer groups whose
 * members (in this process) split the partitions round-robin and rebalance when one joins or
 * leaves, offsets committed only after the handler resolves, a throwing handler's batch retried
 * with backoff. Nothing survives the process; several `MemoryBus` clients on one `MemoryBroker`
 * behave like several processes on one Kafka cluster.
 *
 *   const broker = new MemoryBroker();
 *   const a = new MemoryBus(broker), b = new MemoryBus(broker); // two "processes"
 */
import { MovingDataError } from '../../errors.ts';
import {
  partitionOf,
  type BusHealth,
  type DeliveredRecord,
  type EventBus,
  type OutgoingRecord,
  type PartitionLag,
  type SubscribeOptions,
  type Subscription,
  type TopicPartition,
  type TopicSpec,
} from '../port.ts';

interface Group {
  readonly committed: Map<string, bigint>;
  /** Where `from: 'latest'` put a partition the group had not committed, fixed when first asked. */
  readonly latest: Map<string, bigint>;
  readonly members: Member[];
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** The shared state: topics (arrays of records per partition) and groups. */
export class MemoryBroker {
  readonly topics = new Map<string, DeliveredRecord[][]>();
  readonly groups = new Map<string, Group>();
  readonly #waiters = new Set<() => void>();

  group(id: string): Group {
    let group = this.groups.get(id);
    if (!group) {
      group = { committed: new Map(), latest: new Map(), members: [] };
      this.groups.set(id, group);
    }
    return group;
  }

  /** Wakes every member loop (new records, a rebalance, a close). */
  notify(): void {
    for (const wake of [...this.#waiters]) wake();
    this.#waiters.clear();
  }

  /** Resolves at the next `notify` or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve();
      }, ms);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.add(wake);
    });
  }

  /** Round-robin of every topic's partitions over the members subscribed to it, in join order. */
  rebalance(group: Group): void {
    for (const member of group.members) member.assigned = [];
    const topics = new Set(group.members.flatMap((m) => m.options.topics));
    for (const topic of topics) {
      const subscribers = group.members.filter((m) => m.options.topics.includes(topic));
      const partitions = this.topics.get(topic)?.length ?? 0;
      for (let p = 0; p < partitions; p += 1) subscribers[p % subscribers.length]!.assigned.push({ topic, partition: p });
    }
    for (const member of group.members) {
      member.generation += 1;
      member.positions.clear();
    }
    this.notify();
  }
}

class Member implements Subscription {
  assigned: TopicPartition[] = [];
  generation = 0;
  /** Next offset to read per partition, set from the committed offset after each rebalance. */
  readonly positions = new Map<string, bigint>();
  readonly options: SubscribeOptions;
  readonly #broker: MemoryBroker;
  readonly #group: Group;
  #closed = false;
  #loop: Promise<void> = Promise.resolve();
  readonly #onClose: (member: Member) => void;

  constructor(broker: MemoryBroker, options: SubscribeOptions, onClose: (member: Member) => void) {
    this.#broker = broker;
    this.options = options;
    this.#group = broker.group(options.group);
    this.#onClose = onClose;
  }

  start(): void {
    this.#group.members.push(this);
    this.#broker.rebalance(this.#group);
    this.#loop = this.#run();
  }

  assignments(): readonly TopicPartition[] {
    return [...this.assigned];
  }

  async close(): Promise<void> {
    if (this.#closed) return this.#loop;
    this.#closed = true;
    this.#broker.notify();
    await this.#loop;
    const index = this.#group.members.indexOf(this);
    if (index >= 0) this.#group.members.splice(index, 1);
    this.#broker.rebalance(this.#group);
    this.#onClose(this);
  }

  #position(tp: TopicPartition, log: readonly DeliveredRecord[]): bigint {
    const key = tpKey(tp.topic, tp.partition);
    let position = this.positions.get(key) ?? this.#group.committed.get(key);
    if (position === undefined && this.options.from === 'latest') {
      position = this.#group.latest.get(key) ?? BigInt(log.length);
      this.#group.latest.set(key, position);
    }
    position ??= 0n;
    this.positions.set(key, position);
    return position;
  }

  async #run(): Promise<void> {
    const maxBatch = this.options.maxBatch ?? 500;
    let next = 0;
    while (!this.#closed) {
      // Visit the assigned partitions in turn, starting after the last one served.
      let batch: DeliveredRecord[] = [];
      for (let i = 0; i < this.assigned.length && batch.length === 0; i += 1) {
        const tp = this.assigned[(next + i) % this.assigned.length]!;
        const log = this.#broker.topics.get(tp.topic)?.[tp.partition] ?? [];
        const from = this.#position(tp, log);
        batch = log.slice(Number(from), Number(from) + maxBatch);
        if (batch.length > 0) next = (next + i + 1) % this.assigned.length;
      }
      if (batch.length === 0) {
        await this.#broker.wait(1_000);
        continue;
      }
      await this.#deliver(batch);
    }
  }

  /** Hands the batch to the handler until it resolves (or the partition moves), then commits. */
  async #deliver(batch: readonly DeliveredRecord[]): Promise<void> {
    const first = batch[0]!;
    const key = tpKey(first.topic, first.partition);
    const generation = this.generation;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.options.handler(batch);
        break;
      } catch (err) {
        this.options.onError?.(err);
        const retryAt = Date.now() + Math.min(2_000, 20 * 2 ** attempt);
        while (Date.now() < retryAt && !this.#closed && this.generation === generation) await this.#broker.wait(retryAt - Date.now());
        if (this.#closed || this.generation !== generation) return;
      }
    }
    // A member whose partition moved while it worked does not commit (Kafka refuses the stale generation).
    if (this.generation !== generation) return;
    const end = batch[batch.length - 1]!.offset + 1n;
    this.positions.set(key, end);
    this.#group.committed.set(key, end);
  }
}

export class MemoryBus implements EventBus {
  readonly kind = 'embedded' as const;
  readonly #broker: MemoryBroker;
  readonly #members = new Set<Member>();
  #closed = false;

  constructor(broker: MemoryBroker = new MemoryBroker()) {
    this.#broker = broker;
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    this.#checkOpen();
    for (const { name, partitions } of topics) {
      if (!Number.isInteger(partitions) || partitions < 1) throw new MovingDataError('invalid_argument', `topic ${name}: partitions must be a positive integer`);
      if (this.#broker.topics.has(name)) continue;
      this.#broker.topics.set(name, Array.from({ length: partitions }, () => []));
      // Members subscribed to the topic before it existed get its partitions now.
      for (const group of this.#broker.groups.values()) if (group.members.some((m) => m.options.topics.includes(name))) this.#broker.rebalance(group);
    }
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    this.#checkOpen();
    for (const record of records) if (!this.#broker.topics.has(record.topic)) throw new MovingDataError('not_found', `topic ${record.topic} does not exist`);
    const timestamp = new Date();
    for (const record of records) {
      const partitions = this.#broker.topics.get(record.topic)!;
      const partition = partitionOf(record.key, partitions.length);
      const log = partitions[partition]!;
      log.push({ topic: record.topic, partition, offset: BigInt(log.length), key: record.key, value: record.value, headers: { ...record.headers }, timestamp });
    }
    this.#broker.notify();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#checkOpen();
    const member = new Member(this.#broker, options, (m) => this.#members.delete(m));
    this.#members.add(member);
    member.start();
    return member;
  }

  async lag(group: string, topics: readonly string[]): Promise<readonly PartitionLag[]> {
    this.#checkOpen();
    const committed = this.#broker.groups.get(group)?.committed;
    const lags: PartitionLag[] = [];
    for (const topic of topics) {
      const partitions = this.#broker.topics.get(topic);
      if (!partitions) throw new MovingDataError('not_found', `topic ${topic} does not exist`);
      partitions.forEach((log, partition) => {
        const done = committed?.get(tpKey(topic, partition)) ?? 0n;
        const end = BigInt(log.length);
        lags.push({ topic, partition, committed: done, end, lag: end - done });
      });
    }
    return lags;
  }

  async health(): Promise<BusHealth> {
    return this.#closed ? { reachable: false, detail: 'bus closed' } : { reachable: true };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#members].map((m) => m.close()));
  }

  #checkOpen(): void {
    if (this.#closed) throw new MovingDataError('unavailable', 'event bus closed', { retryable: false });
  }
}

/**
 * The event bus port: how access events (shipped from the metadata store's outbox) and sensor
 * telemetry move between producers and the consumers that count, score and alert on them.
 *
 * Adapters (one folder each under src/events/): `kafka/` (Apache Kafka through
 * @platformatic/kafka, when KAFKA_BOOTSTRAP is set) and `embedded/` (a durable log in the
 * metadata store's database, the default). Both run the conformance suite in
 * `conformance/suite.ts`.
 *
 * Semantics every adapter keeps (Kafka's, which the embedded log copies):
 * - A topic has a fixed number of partitions; a record goes to the partition its key hashes to
 *   (`partitionOf`), so records of one key keep their order.
 * - `publish` resolves once every record is durable (acks=all on Kafka, committed in the
 *   database when embedded); it rejects with `unavailable` when the bus cannot take them.
 * - A subscription belongs to a consumer group. The group's members split the partitions
 *   between them; a member that leaves or dies has its partitions taken over by the others.
 * - A handler gets batches of one partition in offset order. The group's offset for that
 *   partition is committed only after the handler resolves, so delivery is at least once:
 *   after a crash or a rebalance, records since the last commit come again. Handlers must be
 *   idempotent (events carry an `event_id` for that).
 * - A handler that throws has its batch retried (with backoff) and nothing committed; a
 *   record that can never be processed must be set aside by the handler (dead letter), never
 *   thrown forever.
 */

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
}

export interface OutgoingRecord {
  readonly topic: string;
  /** Partitioning key (a file key, a device id); records of one key stay in order. */
  readonly key: string;
  /** The payload, JSON text for our events. */
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface DeliveredRecord {
  readonly topic: string;
  readonly partition: number;
  /** Position in the partition; offsets only grow. */
  readonly offset: bigint;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  /** When the bus accepted the record. */
  readonly timestamp: Date;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface PartitionLag extends TopicPartition {
  /** Next offset the group will read (its committed offset), or 0 when it has none. */
  readonly committed: bigint;
  /** Offset the next published record will get. */
  readonly end: bigint;
  readonly lag: bigint;
}

export interface SubscribeOptions {
  readonly group: string;
  readonly topics: readonly string[];
  /** Called with records of one partition, in order; the offset is committed when it resolves. */
  readonly handler: (batch: readonly DeliveredRecord[]) => Promise<void>;
  /** Where a group with no committed offset starts: the oldest record (default) or the next one. */
  readonly from?: 'earliest' | 'latest';
  /** Largest batch handed to the handler (default 500). */
  readonly maxBatch?: number;
  /** Called when the handler throws (its batch is retried) or the bus errs; default logs nothing. */
  readonly onError?: (err: unknown) => void;
}

export interface Subscription {
  /** The partitions this member holds now. */
  assignments(): readonly TopicPartition[];
  /** Leaves the group (its partitions go to the other members) after the batch in hand. */
  close(): Promise<void>;
}

export interface BusHealth {
  readonly reachable: boolean;
  /** Why not, when not. */
  readonly detail?: string;
}

export interface EventBus {
  readonly kind: 'kafka' | 'embedded';
  /** Creates the topics that do not exist (an existing topic keeps its partition count). */
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;
  publish(records: readonly OutgoingRecord[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Per partition of `topics`, how far `group` is behind. */
  lag(group: string, topics: readonly string[]): Promise<readonly PartitionLag[]>;
  health(): Promise<BusHealth>;
  /** Closes producers and every subscription. */
  close(): Promise<void>;
}

/**
 * Kafka's default partitioner (murmur2 of the key's UTF-8 bytes, sign bit cleared, mod the
 * partition count), so the embedded log and Kafka place a key on the same partition and our
 * outbox relay can claim work by partition. Written here because it is six lines and both
 * adapters need it; it matches the Java client's `Utils.murmur2`.
 */
export function partitionOf(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

export function murmur2(data: Uint8Array): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = (seed ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i]! & 0xff) | ((data[i + 1]! & 0xff) << 8) | ((data[i + 2]! & 0xff) << 16) | ((data[i + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & 3;
  if (tail === 3) h ^= (data[whole + 2]! & 0xff) << 16;
  if (tail >= 2) h ^= (data[whole + 1]! & 0xff) << 8;
  if (tail >= 1) {
    h ^= data[whole]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

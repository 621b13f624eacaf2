/**
 * The Kafka adapter of the event bus port (src/events/port.ts), on @platformatic/kafka.
 *
 * Why this client: it is pure TypeScript (no native addon needed; its optional @node-rs/crc32
 * is a prebuilt speed-up with a WASM fallback), maintained by Platformatic (2.12.1 here; its
 * README lists Kafka 3.5 to 4.2 as tested), and has what the port needs: an idempotent producer
 * (acks=all, one in-flight request, sequence numbers), consumer groups with manual commits, and
 * an admin API for topics and offsets. kafkajs's latest release is still 2.2.4 (2023; a 2.3.0
 * beta since). @confluentinc/kafka-javascript binds librdkafka: its npm install step is
 * `node-pre-gyp install --fallback-to-build`, which downloads a prebuilt binary from GitHub
 * releases or compiles librdkafka, and our machines can do neither.
 *
 * How the port's semantics map onto Kafka:
 * - publish: one idempotent producer per bus; concurrent publish calls are coalesced into one
 *   `send` (one Produce request per leader carries every record), so a busy relay batches on its
 *   own. The partition is ours: a custom partitioner returns `murmur2(key) & 0x7fffffff` and the
 *   client takes it mod the partition count, which is exactly `partitionOf` (the client's default
 *   partitioner uses `>>> 0` instead of the Java client's mask, and lands keys elsewhere). Each
 *   call has a deadline (`publishTimeoutMs`): with the broker down it rejects with `unavailable`
 *   instead of retrying forever (an idempotent producer's default), and the next call starts a
 *   fresh producer session once the broker is back.
 * - subscribe: one consumer (one group member) per subscription, reading a `MessagesStream` in
 *   COMMITTED mode with autocommit off. Whatever the stream has buffered is split per partition
 *   into batches of at most `maxBatch`; partitions run concurrently, a partition's batches one
 *   after another. The offset after a batch is committed once the handler resolves; a throwing
 *   handler gets the same batch again after a backoff. A batch of a partition this member no
 *   longer holds (a rebalance took it) is dropped unhandled: its new owner reads it again from
 *   the committed offset. A stream that dies (broker gone) is reopened with backoff for as long
 *   as the subscription lives.
 * - rebalances: the classic group protocol with the round-robin assignor; a member that leaves
 *   sends LeaveGroup (immediate rebalance), one that dies is dropped after `sessionTimeoutMs`.
 * - lag: the group's committed offsets (OffsetFetch) against the partitions' end offsets
 *   (ListOffsets latest), through the admin client.
 */
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  UserError,
  findErrorBy,
  stringDeserializers,
  stringSerializers,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import { MovingDataError } from '../../errors.ts';
import {
  murmur2,
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

export interface KafkaBusOptions {
  /** Bootstrap brokers, `host:port` (use 127.0.0.1, not localhost, on the lab). */
  readonly bootstrap: readonly string[];
  /** Client id prefix; the producer, admin and each consumer get their own suffix. */
  readonly clientId: string;
  /** A publish not acknowledged within this rejects with `unavailable` (default 5000 ms). */
  readonly publishTimeoutMs?: number;
  /** Bound on ensureTopics, lag, subscribe's group join and close (default 15000 ms). */
  readonly requestTimeoutMs?: number;
  /** Bound on health's metadata request (default 2000 ms). */
  readonly healthTimeoutMs?: number;
  /** A member silent this long is dropped from its group (default 10000 ms; brokers accept 6000 and up). */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat period; also how fast a member notices a rebalance (default 1000 ms). */
  readonly heartbeatIntervalMs?: number;
  /** How long a rebalance waits for members to rejoin (default 20000 ms). */
  readonly rebalanceTimeoutMs?: number;
  /** Longest a fetch waits for new records; bounds delivery latency and close (default 500 ms). */
  readonly maxWaitMs?: number;
  /** Replication factor of topics ensureTopics creates (default 1, the lab's single broker). */
  readonly replicationFactor?: number;
  /** Largest backoff between retries of a throwing handler (default 5000 ms; it starts at 100 ms). */
  readonly maxRetryBackoffMs?: number;
}

type StringConsumer = Consumer<string, string, string, string>;
type StringMessage = Message<string, string, string, string>;
type StringStream = MessagesStream<string, string, string, string>;

/** Largest fetch response, which bounds what a member holds in memory at once. */
const FETCH_MAX_BYTES = 8 * 1024 * 1024;

/** Largest number of records (and, roughly, bytes) one coalesced send carries. */
const SEND_MAX_RECORDS = 5_000;
const SEND_MAX_BYTES = 512 * 1024;

/** The port's partitioner in the client's terms: the client takes the result mod the partition count. */
function portPartitioner(_message: unknown, key: Buffer | undefined): number {
  return key === undefined ? 0 : murmur2(key) & 0x7fffffff;
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return `${err.message} (${err.errors.map((e) => describe(e)).join('; ')})`;
  return err instanceof Error ? err.message : String(err);
}

/** Our error for a client error: a missing topic is `not_found`, our misuse `invalid_argument`, the rest `unavailable`. */
function busError(err: unknown, what: string): MovingDataError {
  if (err instanceof MovingDataError) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  // The client turns a metadata answer of UNKNOWN_TOPIC_OR_PARTITION into UserError('Unknown topic <name>.').
  const unknownTopic = err instanceof UserError && err.message.startsWith('Unknown topic');
  if (unknownTopic || findErrorBy(error, 'apiId', 'UNKNOWN_TOPIC_OR_PARTITION') || findErrorBy(error, 'apiId', 'UNKNOWN_TOPIC_ID')) {
    return new MovingDataError('not_found', `${what}: topic does not exist (${describe(err)})`, { cause: err, retryable: false });
  }
  if (err instanceof UserError) return new MovingDataError('invalid_argument', `${what}: ${describe(err)}`, { cause: err });
  return new MovingDataError('unavailable', `${what}: Kafka unavailable (${describe(err)})`, { cause: err });
}

/** `work`, or `unavailable` after `ms` (the work goes on in the background; its outcome is ignored). */
async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MovingDataError('unavailable', `${what}: no answer from Kafka within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    throw busError(err, what);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

interface PendingPublish {
  readonly records: readonly OutgoingRecord[];
  readonly bytes: number;
  resolve(): void;
  reject(err: unknown): void;
  /** Set once handed to a send (too late to withdraw on timeout). */
  sent: boolean;
}

interface Resolved {
  readonly publishTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly healthTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxWaitMs: number;
  readonly replicationFactor: number;
  readonly maxRetryBackoffMs: number;
}

export class KafkaBus implements EventBus {
  readonly kind = 'kafka' as const;
  readonly #options: KafkaBusOptions;
  readonly #t: Resolved;
  #producer: Producer<string, string, string, string>;
  readonly #admin: Admin;
  readonly #subscriptions = new Set<KafkaSubscription>();
  #queue: PendingPublish[] = [];
  #sending = false;
  #consumers = 0;
  #closed = false;

  constructor(options: KafkaBusOptions) {
    if (options.bootstrap.length === 0) throw new MovingDataError('config_invalid', 'KafkaBus: no bootstrap broker given', { retryable: false });
    this.#options = options;
    this.#t = {
      publishTimeoutMs: options.publishTimeoutMs ?? 5_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
      healthTimeoutMs: options.healthTimeoutMs ?? 2_000,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 20_000,
      maxWaitMs: options.maxWaitMs ?? 500,
      replicationFactor: options.replicationFactor ?? 1,
      maxRetryBackoffMs: options.maxRetryBackoffMs ?? 5_000,
    };
    this.#producer = this.#newProducer();
    this.#admin = new Admin({
      clientId: `${options.clientId}-admin`,
      bootstrapBrokers: [...options.bootstrap],
      retries: 2,
      retryDelay: 250,
      connectTimeout: Math.min(this.#t.requestTimeoutMs, 3_000),
      requestTimeout: this.#t.requestTimeoutMs,
      timeout: this.#t.requestTimeoutMs,
    });
  }

  /** The idempotent producer; a new one (a new producer id) after a send that outlived its deadline. */
  #newProducer(): Producer<string, string, string, string> {
    const publishMs = this.#t.publishTimeoutMs;
    const retryDelay = 250;
    return new Producer({
      clientId: `${this.#options.clientId}-producer`,
      bootstrapBrokers: [...this.#options.bootstrap],
      serializers: stringSerializers,
      idempotent: true,
      acks: -1, // ProduceAcks.ALL (the idempotent producer forces it too)
      partitioner: portPartitioner,
      autocreateTopics: false,
      // The client gives up well before our deadline fires, so a failed send does not keep retrying
      // behind a rejected publish (an idempotent producer otherwise retries without end), and a
      // definite answer (a topic that does not exist: retriable in Kafka's terms) arrives as
      // `not_found` rather than losing the race to the deadline on a loaded machine.
      retries: Math.max(2, Math.floor(publishMs / (2 * retryDelay))),
      retryDelay,
      connectTimeout: Math.min(publishMs, 3_000),
      requestTimeout: publishMs,
      timeout: publishMs,
    });
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    this.#checkOpen();
    for (const { name, partitions } of topics) {
      if (!Number.isInteger(partitions) || partitions < 1) throw new MovingDataError('invalid_argument', `topic ${name}: partitions must be a positive integer`);
    }
    const ms = this.#t.requestTimeoutMs;
    const existing = new Set(await withDeadline(this.#admin.listTopics(), ms, 'ensureTopics'));
    const missing = topics.filter((t) => !existing.has(t.name));
    for (const { name, partitions } of missing) {
      try {
        await withDeadline(this.#admin.createTopics({ topics: [name], partitions, replicas: this.#t.replicationFactor }), ms, `ensureTopics ${name}`);
      } catch (err) {
        // Another client created it between our listing and our request: that is success.
        const cause = err instanceof MovingDataError ? err.cause : err;
        if (!(cause instanceof Error && findErrorBy(cause, 'apiId', 'TOPIC_ALREADY_EXISTS'))) throw err;
      }
    }
    // A created topic takes a moment to get leaders; wait until the metadata says every partition has one.
    const deadline = Date.now() + ms;
    for (const { name } of missing) {
      for (;;) {
        const ready = await this.#admin.metadata({ topics: [name], forceUpdate: true }).then(
          (md) => {
            const topic = md.topics.get(name);
            return topic !== undefined && topic.partitions.length === topic.partitionsCount && topic.partitions.every((p) => p.leader >= 0);
          },
          () => false,
        );
        if (ready) break;
        if (Date.now() > deadline) throw new MovingDataError('unavailable', `ensureTopics ${name}: no leader within ${ms} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new MovingDataError('unavailable', 'event bus closed', { retryable: false }));
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const ms = this.#t.publishTimeoutMs;
      const bytes = records.reduce((sum, r) => sum + r.key.length + r.value.length + 64, 0);
      const timer = setTimeout(() => {
        // Still queued: withdraw it, so it is not sent after its caller was told it failed.
        const index = this.#queue.indexOf(pending);
        if (index >= 0) this.#queue.splice(index, 1);
        // Already sent and the broker silent (down, hung): drop that producer, whose retries could
        // hold every later publish behind this one, and start the next send on a fresh one. Its
        // records may still land (the caller, told `unavailable`, will publish them again).
        else this.#replaceProducer();
        pending.reject(new MovingDataError('unavailable', `publish: Kafka did not acknowledge ${records.length} record(s) within ${ms} ms`));
      }, ms);
      const pending: PendingPublish = {
        records,
        bytes,
        sent: false,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err instanceof MovingDataError ? err : busError(err, 'publish'));
        },
      };
      this.#queue.push(pending);
      this.#pump();
    });
  }

  /** Sends the queued publishes, as many per request as fit, one request at a time. */
  #pump(): void {
    if (this.#sending || this.#queue.length === 0) return;
    const batch: PendingPublish[] = [];
    let count = 0;
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (batch.length > 0 && (count + next.records.length > SEND_MAX_RECORDS || bytes + next.bytes > SEND_MAX_BYTES)) break;
      this.#queue.shift();
      next.sent = true;
      batch.push(next);
      count += next.records.length;
      bytes += next.bytes;
    }
    this.#sending = true;
    const producer = this.#producer;
    const messages = batch.flatMap((p) => p.records.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: { ...r.headers } })));
    producer
      .send({ messages })
      .then(
        () => {
          for (const p of batch) p.resolve();
        },
        (err: unknown) => {
          for (const p of batch) p.reject(err);
        },
      )
      .finally(() => {
        // A replaced producer's late outcome does not touch the current one's pump.
        if (producer !== this.#producer) return;
        this.#sending = false;
        this.#pump();
      });
  }

  #replaceProducer(): void {
    if (!this.#sending || this.#closed) return;
    const old = this.#producer;
    this.#producer = this.#newProducer();
    this.#sending = false;
    old.close(true).catch(() => undefined);
    this.#pump();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#checkOpen();
    this.#consumers += 1;
    const consumer: StringConsumer = new Consumer({
      clientId: `${this.#options.clientId}-consumer-${this.#consumers}`,
      bootstrapBrokers: [...this.#options.bootstrap],
      groupId: options.group,
      deserializers: stringDeserializers,
      autocommit: false,
      sessionTimeout: this.#t.sessionTimeoutMs,
      heartbeatInterval: this.#t.heartbeatIntervalMs,
      rebalanceTimeout: this.#t.rebalanceTimeoutMs,
      maxWaitTime: this.#t.maxWaitMs,
      highWaterMark: Math.max(64, (options.maxBatch ?? 500) * 2),
      maxBytes: FETCH_MAX_BYTES,
      retries: 3,
      retryDelay: 500,
      connectTimeout: 3_000,
      requestTimeout: this.#t.requestTimeoutMs,
      timeout: this.#t.requestTimeoutMs,
    });
    const subscription = new KafkaSubscription(consumer, options, this.#t, () => this.#subscriptions.delete(subscription));
    try {
      await subscription.start();
    } catch (err) {
      await subscription.close().catch(() => undefined);
      throw busError(err, `subscribe ${options.group}`);
    }
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async lag(group: string, topics: readonly string[]): Promise<readonly PartitionLag[]> {
    this.#checkOpen();
    if (topics.length === 0) return [];
    const ms = this.#t.requestTimeoutMs;
    const metadata = await withDeadline(this.#admin.metadata({ topics: [...topics], forceUpdate: true }), ms, 'lag');
    const counts = new Map<string, number>();
    for (const topic of topics) {
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (count === undefined) throw new MovingDataError('not_found', `lag: topic ${topic} does not exist`, { retryable: false });
      counts.set(topic, count);
    }
    const indexes = (topic: string): number[] => [...Array(counts.get(topic) ?? 0).keys()];
    const [ends, committed] = await Promise.all([
      withDeadline(this.#admin.listOffsets({ topics: topics.map((name) => ({ name, partitions: indexes(name).map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) })) }), ms, 'lag'),
      withDeadline(this.#admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: topics.map((name) => ({ name, partitionIndexes: indexes(name) })) }] }), ms, 'lag'),
    ]);
    const endOf = new Map<string, bigint>();
    for (const t of ends) for (const p of t.partitions) endOf.set(`${t.name}:${p.partitionIndex}`, p.offset);
    const committedOf = new Map<string, bigint>();
    for (const g of committed) for (const t of g.topics) for (const p of t.partitions) committedOf.set(`${t.name}:${p.partitionIndex}`, p.committedOffset);
    return topics.flatMap((topic) =>
      indexes(topic).map((partition) => {
        const end = endOf.get(`${topic}:${partition}`) ?? 0n;
        const raw = committedOf.get(`${topic}:${partition}`) ?? -1n;
        const done = raw < 0n ? 0n : raw;
        return { topic, partition, committed: done, end, lag: end > done ? end - done : 0n };
      }),
    );
  }

  async health(): Promise<BusHealth> {
    if (this.#closed) return { reachable: false, detail: 'event bus closed' };
    try {
      await withDeadline(this.#admin.metadata({ topics: [], forceUpdate: true }), this.#t.healthTimeoutMs, 'health');
      return { reachable: true };
    } catch (err) {
      return { reachable: false, detail: describe(err) };
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((s) => s.close()));
    for (const p of this.#queue.splice(0)) p.reject(new MovingDataError('unavailable', 'event bus closed', { retryable: false }));
    const ms = this.#t.requestTimeoutMs;
    await Promise.allSettled([withDeadline(this.#producer.close(true), ms, 'close'), withDeadline(this.#admin.close(), ms, 'close')]);
  }

  #checkOpen(): void {
    if (this.#closed) throw new MovingDataError('unavailable', 'event bus closed', { retryable: false });
  }
}

/** One group member: a consumer, its current stream, and the loop that hands batches to the handler. */
class KafkaSubscription implements Subscription {
  readonly #consumer: StringConsumer;
  readonly #options: SubscribeOptions;
  readonly #t: Resolved;
  readonly #onClosed: () => void;
  readonly #stop = new AbortController();
  #stream: StringStream | undefined;
  #loop: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  /** Offsets this member committed for partitions it has held since; older records are not handled again. */
  readonly #committed = new Map<string, bigint>();
  /** The partitions (`topic:partition`) of the assignment before the latest rebalance. */
  #held = new Set<string>();
  /** Set when the client gave up on the group: the loop joins it again before reopening the stream. */
  #rejoin = false;

  constructor(consumer: StringConsumer, options: SubscribeOptions, t: Resolved, onClosed: () => void) {
    this.#consumer = consumer;
    this.#options = options;
    this.#t = t;
    this.#onClosed = onClosed;
    this.#consumer.on('consumer:group:join', () => {
      try {
        this.#onAssignment();
      } catch (err) {
        this.#options.onError?.(err);
      }
    });
    // The client emits 'error' (which, unheard, would throw and end the process) when a rejoin
    // after a rebalance failed, the broker having gone meanwhile; it then sends no heartbeats and
    // this member would hold nothing for good. Drop the stream: the loop rejoins, then reopens it.
    this.#consumer.on('error', (err: unknown) => {
      this.#options.onError?.(err);
      this.#rejoin = true;
      this.#stream?.destroy();
    });
  }

  async start(): Promise<void> {
    const what = `subscribe ${this.#options.group}`;
    const stream = await withDeadline(this.#open(), this.#t.requestTimeoutMs + this.#t.rebalanceTimeoutMs, what);
    this.#stream = stream;
    // Resolve once the stream knows where each assigned partition starts (its first ListOffsets /
    // OffsetFetch round), so `from: 'latest'` means "after what was published before subscribe
    // resolved", not "after whatever had arrived by the time the stream got round to asking".
    const deadline = Date.now() + this.#t.requestTimeoutMs;
    while (!this.assignments().every((tp) => stream.offsetsToFetch.has(`${tp.topic}:${tp.partition}`))) {
      if (stream.destroyed || Date.now() > deadline) throw new MovingDataError('unavailable', `${what}: no start offsets from Kafka within ${this.#t.requestTimeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.#loop = this.#run();
  }

  assignments(): readonly TopicPartition[] {
    const topics = new Set(this.#options.topics);
    return (this.#consumer.assignments ?? []).filter((a) => topics.has(a.topic)).flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition })));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      await this.#loop;
      await withDeadline(this.#consumer.close(true), this.#t.requestTimeoutMs, 'close').catch((err: unknown) => this.#options.onError?.(err));
      this.#onClosed();
    })();
    return this.#closing;
  }

  async #open(): Promise<StringStream> {
    const stream = await this.#consumer.consume({
      topics: [...this.#options.topics],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: this.#options.from === 'latest' ? MessagesStreamFallbackModes.LATEST : MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      maxWaitTime: this.#t.maxWaitMs,
    });
    // A stream that fails destroys itself; report why (the loop then opens another).
    stream.on('error', (err: unknown) => this.#options.onError?.(err));
    // Paused mode from the start (readableFlowing false): the stream only fetches once someone
    // listens, and a read() issued while it had no listener would leave its fetch loop idle.
    stream.on('readable', () => undefined);
    return stream;
  }

  #owns(topic: string, partition: number): boolean {
    return (this.#consumer.assignments ?? []).some((a) => a.topic === topic && a.partitions.includes(partition));
  }

  /**
   * After each rebalance (the stream's own refresh runs after this, once its requests return):
   * a partition this member did not hold before the rebalance starts from the group's committed
   * offset, or the `from` fallback when there is none, never from a position this member's stream
   * had reached earlier. That position can be ahead of everything handled: a fetch already in
   * flight when a rebalance took the partition away still delivers it, and those records are
   * dropped unhandled. (Seen in the crash test: the survivor then took over a partition the
   * victim had never committed and resumed past 388 records nobody had handled.)
   */
  #onAssignment(): void {
    const now = new Set(this.assignments().map((tp) => `${tp.topic}:${tp.partition}`));
    const keep = (key: string): boolean => now.has(key) && this.#held.has(key);
    const positions = this.#stream?.offsetsToFetch;
    for (const key of [...(positions?.keys() ?? [])]) if (!keep(key)) positions?.delete(key);
    for (const key of [...this.#committed.keys()]) if (!keep(key)) this.#committed.delete(key);
    this.#held = now;
  }

  async #run(): Promise<void> {
    const maxBatch = this.#options.maxBatch ?? 500;
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const stream = this.#stream;
      if (stream === undefined || stream.destroyed || stream.readableEnded) {
        // The stream died (broker gone, a rebalance error): open another, with backoff.
        this.#stream = undefined;
        try {
          if (this.#rejoin) {
            await withDeadline(this.#consumer.joinGroup({}), this.#t.requestTimeoutMs + this.#t.rebalanceTimeoutMs, `rejoin ${this.#options.group}`);
            this.#rejoin = false;
          }
          this.#stream = await this.#open();
          failures = 0;
        } catch (err) {
          this.#options.onError?.(err);
          await sleep(Math.min(this.#t.maxRetryBackoffMs, 250 * 2 ** failures++), this.#stop.signal);
        }
        continue;
      }
      const messages: StringMessage[] = [];
      // Everything buffered (one fetch response at most, bounded by maxBytes), so every partition
      // in it gets its turn now rather than after the backlog of the first one.
      for (let m = stream.read() as StringMessage | null; m !== null; m = stream.read() as StringMessage | null) messages.push(m);
      if (messages.length === 0) {
        await this.#readable(stream);
        continue;
      }
      const byPartition = new Map<string, StringMessage[]>();
      for (const m of messages) {
        const key = `${m.topic}:${m.partition}`;
        const list = byPartition.get(key) ?? [];
        if (list.length === 0) byPartition.set(key, list);
        list.push(m);
      }
      await Promise.all(
        [...byPartition.values()].map(async (list) => {
          for (let i = 0; i < list.length; i += maxBatch) if (!(await this.#handle(list.slice(i, i + maxBatch)))) return;
        }),
      );
    }
  }

  /** Resolves when the stream has records, ends or fails, or the subscription closes. */
  #readable(stream: StringStream): Promise<void> {
    return new Promise((resolve) => {
      // Through the plain Readable type: the stream's typed overloads list each event separately.
      const readable: NodeJS.EventEmitter = stream;
      const events = ['readable', 'end', 'close', 'error'];
      const done = (): void => {
        for (const e of events) readable.off(e, done);
        this.#stop.signal.removeEventListener('abort', done);
        resolve();
      };
      for (const e of events) readable.on(e, done);
      this.#stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Handles one batch until the handler resolves, then commits; false when the partition is no longer ours. */
  async #handle(messages: readonly StringMessage[]): Promise<boolean> {
    const first = messages[0]!;
    const { topic, partition } = first;
    const key = `${topic}:${partition}`;
    const done = this.#committed.get(key) ?? -1n;
    const fresh = messages.filter((m) => m.offset >= done);
    if (fresh.length === 0) return true;
    const batch = fresh.map(delivered);
    for (let attempt = 0; ; attempt += 1) {
      if (this.#stop.signal.aborted || !this.#owns(topic, partition)) return false;
      try {
        await this.#options.handler(batch);
        break;
      } catch (err) {
        this.#options.onError?.(err);
        await sleep(Math.min(this.#t.maxRetryBackoffMs, 100 * 2 ** attempt), this.#stop.signal);
      }
    }
    // Taken by a rebalance while the handler ran: the new owner reads the batch again.
    if (!this.#owns(topic, partition)) return false;
    const last = fresh[fresh.length - 1]!;
    const next = last.offset + 1n;
    try {
      await withDeadline(this.#consumer.commit({ offsets: [{ topic, partition, offset: next, leaderEpoch: last.leaderEpoch }] }), this.#t.requestTimeoutMs, 'commit');
      this.#committed.set(key, next);
    } catch (err) {
      // Not committed: the records come again after the next rebalance or restart (at least once).
      this.#options.onError?.(err);
    }
    return true;
  }
}

function delivered(m: StringMessage): DeliveredRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of m.headers) headers[String(k)] = String(v);
  return { topic: m.topic, partition: m.partition, offset: m.offset, key: m.key ?? '', value: m.value ?? '', headers, timestamp: new Date(Number(m.timestamp)) };
}

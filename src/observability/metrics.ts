/**
 * The control plane's Prometheus metrics, in one `Metrics` object that owns its own registry
 * (never the library's global one: two apps in one process, as in the tests, do not collide).
 *
 * What it measures:
 * - the process (CPU, memory, event loop, GC, handles), as `movingdata_process_*` and
 *   `movingdata_nodejs_*`;
 * - HTTP requests by method, route pattern and status (metrics-plugin.ts feeds it);
 * - bytes and time moved to and from each storage location (`observeTransfer`);
 * - events published and consumed per topic (`countEvents`), anomalies (`countAnomalies`);
 * - point-in-time state read at scrape time: jobs, the job queue, drift, the outbox, consumer
 *   lag, alerts. The integrator registers async collectors (`addCollector`) that read the
 *   stores and call the typed setters; each runs before a scrape, bounded by a timeout, and one
 *   that throws or hangs only counts in `movingdata_metrics_collector_errors_total` (its gauges
 *   keep their last values) instead of failing the scrape.
 *
 * Cardinality is bounded by construction: a location must be one of the configured ones, a
 * job state or drift kind one of the known ones, and every other label value (route, job kind,
 * topic, group, alert kind, ...) must look like an identifier and is admitted only up to a fixed
 * number of distinct values per label. Anything else is `"other"`, so no request, object key or
 * device id can create series at will.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from '@prometheus-io/client';
import { JOB_STATES, type JobState } from '../metadata/index.ts';
import { DRIFT_KINDS } from '../replication/drift.ts';

export const METRIC_PREFIX = 'movingdata_';
/** What a label value that is not admitted becomes. */
export const OTHER = 'other';
/** The route label of a request no route matched (404s, 405s). */
export const UNMATCHED_ROUTE = 'unmatched';

export type TransferDirection = 'in' | 'out';
export type EventDirection = 'in' | 'out';

const DEFAULT_COLLECTOR_TIMEOUT_MS = 2000;
const HTTP_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
const DIRECTIONS: ReadonlySet<string> = new Set(['in', 'out']);
/** An identifier-like label value: what job kinds, topics, groups and alert kinds look like. */
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** A route pattern as Fastify spells it: `/files/:location/*`. */
const ROUTE_PATTERN = /^\/[A-Za-z0-9_.:*/{}-]{0,199}$/;

/**
 * Admits label values into a bounded set: those in `known` always; others that match `shape`
 * until `limit` of them were seen; anything else is `other`.
 */
class LabelSet {
  readonly #known: ReadonlySet<string> | undefined;
  readonly #shape: RegExp;
  readonly #limit: number;
  readonly #seen = new Set<string>();

  constructor(options: { readonly known?: Iterable<string>; readonly shape?: RegExp; readonly limit?: number }) {
    this.#known = options.known === undefined ? undefined : new Set(options.known);
    this.#shape = options.shape ?? IDENTIFIER;
    // With a `known` list and no limit, nothing else is admitted.
    this.#limit = options.limit ?? (options.known === undefined ? 64 : 0);
  }

  admit(value: string | undefined | null): string {
    if (typeof value !== 'string') return OTHER;
    if (this.#known?.has(value) === true || this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#limit || !this.#shape.test(value)) return OTHER;
    this.#seen.add(value);
    return value;
  }
}

export type CollectorErrorReason = 'error' | 'timeout';

export interface MetricsOptions {
  /** The configured storage locations; any other location label becomes `other`. */
  readonly locations: readonly string[];
  /** How long a collector may take before the scrape goes on without it; default 2000 ms. */
  readonly collectorTimeoutMs?: number;
  /** Process metrics (`collectDefaultMetrics`); default true. */
  readonly processMetrics?: boolean;
  /** Told about a collector that failed or timed out (to log it); the scrape goes on anyway. */
  readonly onCollectorError?: (name: string, reason: CollectorErrorReason, err: unknown) => void;
}

export interface CollectorOptions {
  /** For the `collector` label of the error counter and for `onCollectorError`; default `unnamed`. */
  readonly name?: string;
  /** Overrides the default collector timeout for this one. */
  readonly timeoutMs?: number;
}

/** A backlog: how many items wait, and how long the oldest has been waiting. */
export interface Backlog {
  readonly depth: number;
  /** 0 when nothing waits. */
  readonly oldestAgeSeconds: number;
}

/** What `EventBus.lag` returns per partition (a `PartitionLag` fits). */
export interface TopicLag {
  readonly topic: string;
  readonly lag: bigint | number;
}

/** Counts by a first then a second dimension: jobs by kind then state, alerts by kind then state. */
export type CountsByTwo = Readonly<Record<string, Readonly<Record<string, number | undefined>>>>;

interface Collector {
  readonly name: string;
  readonly timeoutMs: number;
  readonly collect: () => Promise<void>;
  /** A run that has not settled yet (one that outlived its timeout): joined, not restarted. */
  inflight: Promise<void> | undefined;
}

type Labels<T extends string> = Partial<Record<T, string>>;

export class Metrics {
  /** This instance's own registry: serve `registry.metrics()` with `registry.contentType`. */
  readonly registry: Registry;

  readonly #timeoutMs: number;
  readonly #onCollectorError: MetricsOptions['onCollectorError'];
  readonly #collectors: Collector[] = [];
  #collecting: Promise<void> | undefined;

  readonly #locations: LabelSet;
  readonly #methods = new LabelSet({ known: HTTP_METHODS });
  readonly #routes = new LabelSet({ shape: ROUTE_PATTERN, limit: 256 });
  readonly #directions = new LabelSet({ known: DIRECTIONS });
  readonly #jobKinds = new LabelSet({ limit: 64 });
  readonly #jobStates = new LabelSet({ known: JOB_STATES });
  readonly #driftKinds = new LabelSet({ known: DRIFT_KINDS });
  readonly #topics = new LabelSet({ limit: 64 });
  readonly #groups = new LabelSet({ limit: 64 });
  readonly #deviceKinds = new LabelSet({ known: ['unknown'], limit: 32 });
  readonly #alertKinds = new LabelSet({ limit: 64 });
  readonly #alertStates = new LabelSet({ limit: 16 });
  readonly #collectorNames = new LabelSet({ known: ['unnamed'], limit: 64 });
  /** Consumer lag by group, then topic: each group's latest report, summed over partitions. */
  readonly #lag = new Map<string, Map<string, number>>();

  readonly #httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly #transferBytes: Counter<'location' | 'direction'>;
  readonly #transferSeconds: Histogram<'location' | 'direction'>;
  readonly #collectorErrors: Counter<'collector' | 'reason'>;
  readonly #jobs: Gauge<'kind' | 'state'>;
  readonly #jobQueueDepth: Gauge;
  readonly #jobQueueOldest: Gauge;
  readonly #drift: Gauge<'location' | 'kind'>;
  readonly #outboxDepth: Gauge;
  readonly #outboxOldest: Gauge;
  readonly #events: Counter<'topic' | 'direction'>;
  readonly #consumerLag: Gauge<'group' | 'topic'>;
  readonly #anomalies: Counter<'device_kind'>;
  readonly #alerts: Gauge<'kind' | 'state'>;

  constructor(options: MetricsOptions) {
    this.registry = new Registry();
    this.#timeoutMs = options.collectorTimeoutMs ?? DEFAULT_COLLECTOR_TIMEOUT_MS;
    this.#onCollectorError = options.onCollectorError;
    this.#locations = new LabelSet({ known: options.locations });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });

    const registers = [this.registry];
    this.#httpDuration = new Histogram({
      name: 'movingdata_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status, from arrival to the last byte sent',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.#transferBytes = new Counter({
      name: 'movingdata_transfer_bytes_total',
      help: 'Bytes moved to (in) and from (out) each storage location',
      labelNames: ['location', 'direction'] as const,
      registers,
    });
    this.#transferSeconds = new Histogram({
      name: 'movingdata_transfer_seconds',
      help: 'Time of each transfer to (in) or from (out) a storage location',
      labelNames: ['location', 'direction'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.#collectorErrors = new Counter({
      name: 'movingdata_metrics_collector_errors_total',
      help: 'Scrape-time collectors that threw (error) or did not finish in time (timeout); their gauges keep their last values',
      labelNames: ['collector', 'reason'] as const,
      registers,
    });
    this.#jobs = new Gauge({ name: 'movingdata_jobs', help: 'Jobs by kind and state', labelNames: ['kind', 'state'] as const, registers });
    this.#jobQueueDepth = new Gauge({ name: 'movingdata_job_queue_depth', help: 'Jobs waiting to run (queued)', registers });
    this.#jobQueueOldest = new Gauge({ name: 'movingdata_job_queue_oldest_age_seconds', help: 'How long the oldest waiting job has waited; 0 when none waits', registers });
    this.#drift = new Gauge({
      name: 'movingdata_drift_objects',
      help: "Drifted objects by location and kind, from each location's latest scan",
      labelNames: ['location', 'kind'] as const,
      registers,
    });
    this.#outboxDepth = new Gauge({ name: 'movingdata_outbox_depth', help: 'Events in the outbox not yet shipped to the bus', registers });
    this.#outboxOldest = new Gauge({ name: 'movingdata_outbox_oldest_age_seconds', help: 'How long the oldest unshipped event has waited; 0 when none waits', registers });
    this.#events = new Counter({
      name: 'movingdata_events_total',
      help: 'Events published (out) and consumed (in) per topic',
      labelNames: ['topic', 'direction'] as const,
      registers,
    });
    this.#consumerLag = new Gauge({
      name: 'movingdata_consumer_lag',
      help: 'Records a consumer group has yet to read, per topic (summed over partitions)',
      labelNames: ['group', 'topic'] as const,
      registers,
    });
    this.#anomalies = new Counter({
      name: 'movingdata_anomalies_total',
      help: 'Anomalies detected, by device kind (never by device)',
      labelNames: ['device_kind'] as const,
      registers,
    });
    this.#alerts = new Gauge({ name: 'movingdata_alerts', help: 'Alerts by kind and state', labelNames: ['kind', 'state'] as const, registers });
  }

  /** The Content-Type to serve `scrape()` with. */
  get contentType(): string {
    return this.registry.contentType;
  }

  // ---- scraping -----------------------------------------------------------------------------

  /**
   * Run before every scrape (after the ones added earlier, all at once), to read state and call
   * the setters. Returns a function that removes it.
   */
  addCollector(collect: () => Promise<void>, options: CollectorOptions = {}): () => void {
    const collector: Collector = {
      name: this.#collectorNames.admit(options.name ?? 'unnamed'),
      timeoutMs: options.timeoutMs ?? this.#timeoutMs,
      collect,
      inflight: undefined,
    };
    this.#collectors.push(collector);
    return () => {
      const at = this.#collectors.indexOf(collector);
      if (at >= 0) this.#collectors.splice(at, 1);
    };
  }

  /** Run the collectors (bounded), then render every metric in the text exposition format. */
  async scrape(): Promise<string> {
    await this.collect();
    return this.registry.metrics();
  }

  /**
   * Run every collector once, each bounded by its timeout; never rejects. Concurrent scrapes
   * share one round, and a collector still running from an earlier round is waited on again
   * (up to its timeout), not started twice.
   */
  collect(): Promise<void> {
    this.#collecting ??= Promise.all(this.#collectors.map((c) => this.#run(c))).then(
      () => {
        this.#collecting = undefined;
      },
      () => {
        this.#collecting = undefined;
      },
    );
    return this.#collecting;
  }

  async #run(collector: Collector): Promise<void> {
    const run = (collector.inflight ??= (async () => collector.collect())().finally(() => {
      collector.inflight = undefined;
    }));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), collector.timeoutMs);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([run.then(() => 'done' as const), timedOut]);
      if (outcome === 'timeout') this.#collectorFailed(collector, 'timeout', new Error(`collector ${collector.name} did not finish within ${collector.timeoutMs} ms`));
    } catch (err) {
      this.#collectorFailed(collector, 'error', err);
    } finally {
      clearTimeout(timer);
    }
  }

  #collectorFailed(collector: Collector, reason: CollectorErrorReason, err: unknown): void {
    this.#collectorErrors.inc({ collector: collector.name, reason });
    try {
      this.#onCollectorError?.(collector.name, reason, err);
    } catch {
      // A failing logger must not fail the scrape either.
    }
  }

  // ---- observations -------------------------------------------------------------------------

  /** One HTTP request; `route` is the matched route's pattern, undefined when none matched. */
  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void {
    if (!validAmount(seconds)) return;
    this.#httpDuration.observe(
      {
        method: this.#methods.admit(method.toUpperCase()),
        route: route === undefined ? UNMATCHED_ROUTE : this.#routes.admit(route),
        status: Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : OTHER,
      },
      seconds,
    );
  }

  /** One transfer of `bytes` to (`in`) or from (`out`) `location` that took `seconds`. */
  observeTransfer(location: string, direction: TransferDirection, bytes: number, seconds: number): void {
    const labels = { location: this.#locations.admit(location), direction: this.#directions.admit(direction) };
    if (validAmount(bytes)) this.#transferBytes.inc(labels, bytes);
    if (validAmount(seconds)) this.#transferSeconds.observe(labels, seconds);
  }

  /** `n` events published (`out`) to or consumed (`in`) from `topic`. */
  countEvents(topic: string, direction: EventDirection, n = 1): void {
    if (!validAmount(n)) return;
    this.#events.inc({ topic: this.#topics.admit(topic), direction: this.#directions.admit(direction) }, n);
  }

  /** `n` anomalies of devices of `deviceKind` (a kind such as `thermostat`, never a device id). */
  countAnomalies(deviceKind?: string, n = 1): void {
    if (!validAmount(n)) return;
    this.#anomalies.inc({ device_kind: this.#deviceKinds.admit(deviceKind ?? 'unknown') }, n);
  }

  // ---- scrape-time state (snapshots: each call replaces what the previous one set) -----------

  /** Jobs by kind, then state (`JobQueue.counts()` fits; fields that are not states are ignored). */
  setJobs(byKind: Readonly<Record<string, Readonly<Partial<Record<JobState, number>>>>>): void {
    const values = new Tally<'kind' | 'state'>();
    for (const [kind, byState] of Object.entries(byKind)) {
      for (const state of JOB_STATES) {
        const n = byState[state];
        if (n !== undefined) values.add({ kind: this.#jobKinds.admit(kind), state: this.#jobStates.admit(state) }, n);
      }
    }
    values.replace(this.#jobs, (labels, value) => this.#jobs.set(labels, value));
  }

  /** Jobs waiting to run, and how long the oldest has waited. */
  setJobQueue(backlog: Backlog): void {
    setBacklog(this.#jobQueueDepth, this.#jobQueueOldest, backlog);
  }

  /** Drift counts by location, then kind, from each location's latest scan. */
  setDrift(byLocation: Readonly<Record<string, Readonly<Record<string, number | undefined>> | null | undefined>>): void {
    const values = new Tally<'location' | 'kind'>();
    for (const [location, byKind] of Object.entries(byLocation)) {
      if (byKind === null || byKind === undefined) continue;
      for (const [kind, n] of Object.entries(byKind)) {
        if (n !== undefined) values.add({ location: this.#locations.admit(location), kind: this.#driftKinds.admit(kind) }, n);
      }
    }
    values.replace(this.#drift, (labels, value) => this.#drift.set(labels, value));
  }

  /** Events waiting in the outbox, and how long the oldest has waited. */
  setOutbox(backlog: Backlog): void {
    setBacklog(this.#outboxDepth, this.#outboxOldest, backlog);
  }

  /**
   * `group`'s lag, per partition (what `EventBus.lag(group, topics)` returns), summed by topic;
   * replaces that group's previous report (other groups keep theirs).
   */
  setConsumerLag(group: string, partitions: readonly TopicLag[]): void {
    const byTopic = new Map<string, number>();
    for (const { topic, lag } of partitions) {
      const n = Number(lag);
      if (validAmount(n)) byTopic.set(topic, (byTopic.get(topic) ?? 0) + n);
    }
    this.#lag.set(group, byTopic);
    const values = new Tally<'group' | 'topic'>();
    for (const [g, topics] of this.#lag) for (const [topic, n] of topics) values.add({ group: this.#groups.admit(g), topic: this.#topics.admit(topic) }, n);
    values.replace(this.#consumerLag, (labels, value) => this.#consumerLag.set(labels, value));
  }

  /** Alerts by kind, then state. */
  setAlerts(byKind: CountsByTwo): void {
    const values = new Tally<'kind' | 'state'>();
    for (const [kind, byState] of Object.entries(byKind)) {
      for (const [state, n] of Object.entries(byState)) {
        if (n !== undefined) values.add({ kind: this.#alertKinds.admit(kind), state: this.#alertStates.admit(state) }, n);
      }
    }
    values.replace(this.#alerts, (labels, value) => this.#alerts.set(labels, value));
  }
}

function validAmount(n: number): boolean {
  return Number.isFinite(n) && n >= 0;
}

function setBacklog(depth: Gauge, oldest: Gauge, backlog: Backlog): void {
  depth.set(validAmount(backlog.depth) ? backlog.depth : 0);
  oldest.set(validAmount(backlog.oldestAgeSeconds) ? backlog.oldestAgeSeconds : 0);
}

/**
 * Gauge values built up before they replace a gauge's series: values whose labels became the
 * same (`other`) add up, and series absent from the new snapshot disappear.
 */
class Tally<T extends string> {
  readonly #values = new Map<string, { labels: Labels<T>; value: number }>();

  add(labels: Labels<T>, n: number): void {
    if (!validAmount(n)) return;
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    const entry = this.#values.get(key);
    if (entry === undefined) this.#values.set(key, { labels, value: n });
    else entry.value += n;
  }

  /** `set` is the gauge's own (spelled at the call, where the label names are known). */
  replace(gauge: { reset(): void }, set: (labels: Labels<T>, value: number) => void): void {
    gauge.reset();
    for (const { labels, value } of this.#values.values()) set(labels, value);
  }
}

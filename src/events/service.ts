/**
 * The event side of the control plane, composed: the bus (Kafka when KAFKA_BOOTSTRAP is set,
 * else the embedded log), its topics, the outbox relay, the consumers (access statistics,
 * telemetry scoring), alerts and their checks, the synthetic load, the telemetry producer path
 * behind `POST /stream/event`, and the figures of `GET /streaming/metrics`. The server runs all
 * of it; `movingdata worker` runs the relay and consumers on other hosts (PostgreSQL), where
 * more processes share the partitions.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Config } from '../config/config.ts';
import { DEFAULT_ANOMALY_THRESHOLD } from '../anomaly/detector.ts';
import type { MetadataStore, SensorReading } from '../metadata/index.ts';
import { AlertManager } from './alerts.ts';
import { ACCESS_STATS_GROUP, startAccessStatsConsumer } from './consumers/access-stats.ts';
import { deadLetterTopic } from './consumers/dead-letter.ts';
import { TELEMETRY_GROUP, startTelemetryConsumer, type TelemetryConsumer } from './consumers/telemetry.ts';
import { EmbeddedBus } from './embedded/embedded-bus.ts';
import { KafkaBus } from './kafka/kafka-bus.ts';
import type { EventBus, PartitionLag, Subscription } from './port.ts';
import { RateWindow } from './rates.ts';
import { OutboxRelay } from './relay.ts';
import { SyntheticAccess, SyntheticSensors, type StoredFile } from './synthetic.ts';
import { sensorEventsFrom, sensorRecord, type SensorEvent, type SensorInput } from './telemetry.ts';

export const TOPIC_ALERTS = 'alerts';
/** Largest `POST /simulate/burst`. */
export const MAX_BURST = 10_000;

export interface EventServiceOptions {
  readonly config: Config;
  readonly metadata: MetadataStore;
  readonly log: { warn(obj: object, msg: string): void };
  /** Run the relay and consumers (the server and `movingdata worker`); off: produce only. */
  readonly consumers: boolean;
  /** Stored files for the synthetic access stream (refreshed every minute). */
  readonly files?: () => Promise<readonly StoredFile[]>;
  /** Where event and anomaly counts go (Prometheus). */
  readonly metrics?: { countEvents(topic: string, direction: 'in' | 'out', n?: number): void; countAnomalies(deviceKind?: string, n?: number): void };
}

export interface LiveEvent {
  readonly type: 'reading' | 'alert' | 'access';
  /** For access events: the location, so the feed shows a caller only its own. */
  readonly location?: string | null;
  readonly data: unknown;
}

export function openEventBus(config: Config, metadata: MetadataStore): EventBus {
  if (config.kafka.bootstrap !== undefined) {
    return new KafkaBus({ bootstrap: config.kafka.bootstrap, clientId: `movingdata-${hostname()}-${process.pid}`, publishTimeoutMs: config.kafka.publishTimeoutMs });
  }
  return new EmbeddedBus(metadata.eventLog);
}

export class EventService {
  readonly bus: EventBus;
  readonly alerts: AlertManager;
  /** Scored readings, opened alerts and shipped access events, for the live feed. */
  readonly live = new EventEmitter();
  readonly #options: EventServiceOptions;
  readonly #in = new Map<string, RateWindow>();
  readonly #out = new Map<string, RateWindow>();
  readonly #subscriptions: Subscription[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #sensors: SyntheticSensors;
  readonly #burstSensors: SyntheticSensors;
  readonly #access: SyntheticAccess;
  #relay: OutboxRelay | undefined;
  #telemetry: TelemetryConsumer | undefined;
  #producerReady = false;
  #lastProducerError: string | null = null;
  #started = false;

  constructor(options: EventServiceOptions) {
    this.#options = options;
    const { config, metadata } = options;
    this.bus = openEventBus(config, metadata);
    this.live.setMaxListeners(0);
    this.alerts = new AlertManager(metadata.alerts, this.bus, {
      topic: TOPIC_ALERTS,
      quietMs: config.alerts.quietS * 1000,
      onError: (err) => this.#warn(err, 'could not publish an alert event'),
      onOpened: (alert) => this.live.emit('event', { type: 'alert', data: { id: alert.id, kind: alert.kind, subject: alert.subject, severity: alert.severity, message: alert.message } } satisfies LiveEvent),
    });
    this.#sensors = new SyntheticSensors({ devices: config.events.syntheticDevices });
    this.#burstSensors = new SyntheticSensors({ devices: 4, prefix: 'burst-sensor', seed: 7, anomalyRate: 0 });
    this.#access = new SyntheticAccess(config.kafka.topicAccess);
  }

  get topics(): { readonly access: string; readonly sensor: string; readonly alerts: string } {
    return { access: this.#options.config.kafka.topicAccess, sensor: this.#options.config.kafka.topicSensor, alerts: TOPIC_ALERTS };
  }

  /**
   * Consumer groups, named after their topic: deployments that share a broker and a topic share
   * the work; ones with topics of their own (tests, a second environment) never meet.
   */
  get groups(): { readonly stats: string; readonly telemetry: string } {
    return { stats: `${ACCESS_STATS_GROUP}.${this.topics.access}`, telemetry: `${TELEMETRY_GROUP}.${this.topics.sensor}` };
  }

  get threshold(): number {
    return this.#options.config.alerts.anomalyScore ?? DEFAULT_ANOMALY_THRESHOLD;
  }

  #warn(err: unknown, msg: string): void {
    this.#options.log.warn({ err: err instanceof Error ? err.message : String(err) }, msg);
  }

  #count(map: Map<string, RateWindow>, topic: string, n: number): void {
    this.#options.metrics?.countEvents(topic, map === this.#in ? 'in' : 'out', n);
    let window = map.get(topic);
    if (window === undefined) map.set(topic, (window = new RateWindow()));
    window.add(n);
  }

  /** Creates the topics and starts what this process runs. A bus that is down is retried in the background. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { config } = this.#options;
    await this.#ensureTopics().catch((err: unknown) => this.#warn(err, 'event bus not ready at start-up; retrying in the background'));
    if (this.#options.consumers) {
      this.#relay = new OutboxRelay(this.#options.metadata.outbox, this.bus, {
        // Parallel rounds help only where the database has connections to run them on.
        lanes: this.#options.metadata.features.multiProcess ? 4 : 1,
        retentionMs: config.events.retentionS * 1000,
        onError: (err) => this.#warn(err, 'outbox relay: the bus did not take a batch; rows stay in the outbox'),
        onShipped: (rows) => {
          // The producer works again (a telemetry failure while the broker was away is over).
          this.#producerReady = true;
          this.#lastProducerError = null;
          for (const row of rows) {
            this.#count(this.#out, row.topic, 1);
            this.live.emit('event', { type: 'access', location: locationOf(row.value), data: row.value } satisfies LiveEvent);
          }
        },
      });
      this.#relay.start();
      await this.#startConsumers().catch((err: unknown) => {
        this.#warn(err, 'consumers not started; retrying in the background');
        this.#timers.push(setTimeout(() => void this.#retryConsumers(), 2000));
      });
      this.#every(5000, () => this.#checks());
    }
    if (config.events.syntheticLoad) this.#startSynthetic();
  }

  async #ensureTopics(): Promise<void> {
    const { access, sensor, alerts } = this.topics;
    const partitions = this.#options.config.kafka.partitions;
    await this.bus.ensureTopics([access, sensor, alerts, deadLetterTopic(access), deadLetterTopic(sensor)].map((name) => ({ name, partitions })));
    this.#producerReady = true;
  }

  async #retryConsumers(): Promise<void> {
    if (!this.#started) return;
    try {
      await this.#ensureTopics();
      await this.#startConsumers();
    } catch (err) {
      this.#warn(err, 'consumers still not started');
      this.#timers.push(setTimeout(() => void this.#retryConsumers(), 5000));
    }
  }

  async #startConsumers(): Promise<void> {
    if (this.#subscriptions.length > 0) return;
    const { config, metadata } = this.#options;
    const onError = (err: unknown) => this.#warn(err, 'consumer: a batch failed; it will be retried');
    this.#subscriptions.push(
      await startAccessStatsConsumer({ bus: this.bus, stats: metadata.accessStats, alerts: this.alerts, topic: this.topics.access, group: this.groups.stats, latencyAlertMs: config.alerts.latencyMs, onError }),
    );
    this.#telemetry = await startTelemetryConsumer({
      bus: this.bus,
      readings: metadata.sensorReadings,
      alerts: this.alerts,
      topic: this.topics.sensor,
      group: this.groups.telemetry,
      maxDevices: config.events.maxDevices,
      threshold: this.threshold,
      onError,
      onScored: (readings: readonly SensorReading[]) => {
        this.#count(this.#out, this.topics.sensor, readings.length);
        const flagged = readings.filter((r) => r.flagged).length;
        if (flagged > 0) this.#options.metrics?.countAnomalies('sensor', flagged);
        for (const r of readings) this.live.emit('event', { type: 'reading', data: { device_id: r.deviceId, ts: r.ts.toISOString(), value: r.value, score: r.score, flagged: r.flagged } } satisfies LiveEvent);
      },
    });
    this.#subscriptions.push(this.#telemetry.subscription);
  }

  #every(ms: number, work: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      work()
        .catch((err: unknown) => this.#warn(err, 'event service check failed'))
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /** Periodic: backlog and bus alerts, quiet one-offs resolved, bounded tables trimmed. */
  async #checks(): Promise<void> {
    const { config, metadata } = this.#options;
    const outbox = await metadata.outbox.stats();
    const ageS = outbox.oldestAt === null ? 0 : (Date.now() - outbox.oldestAt.getTime()) / 1000;
    if (ageS > config.alerts.outboxAgeS) {
      await this.alerts.raise({ kind: 'outbox_backlog', subject: 'outbox', severity: 'warning', message: `${outbox.depth} events waiting, the oldest for ${Math.round(ageS)} s`, details: { depth: outbox.depth, oldest_age_s: ageS } });
    } else {
      await this.alerts.resolve('outbox_backlog', 'outbox');
    }
    const health = await this.bus.health();
    if (!health.reachable) {
      await this.alerts.raise({ kind: 'bus_unreachable', subject: this.bus.kind, severity: 'critical', message: `the event bus (${this.bus.kind}) does not answer: ${health.detail ?? ''}`, details: { bus: this.bus.kind } });
    } else {
      await this.alerts.resolve('bus_unreachable', this.bus.kind);
    }
    await this.alerts.sweep();
    await metadata.sensorReadings.trim(config.events.peekKeep);
    if (this.bus instanceof EmbeddedBus) await metadata.eventLog.purge(config.events.retentionS * 1000);
    await metadata.accessStats.purgeConsumed(Math.max(7 * 86_400, config.events.retentionS) * 1000);
  }

  #startSynthetic(): void {
    const { config } = this.#options;
    const refresh = async () => {
      if (this.#options.files !== undefined) this.#access.setFiles(await this.#options.files());
    };
    void refresh().catch((err: unknown) => this.#warn(err, 'synthetic load: could not list the stored files'));
    this.#every(60_000, refresh);
    // Ten ticks a second; the rate is spread over them (a fractional share carries over).
    let carry = 0;
    this.#every(100, async () => {
      carry += config.events.syntheticRate / 10;
      const n = Math.floor(carry);
      if (n === 0) return;
      carry -= n;
      await this.publishTelemetry(this.#sensors.take(n), true);
      if (this.#access.files > 0) await this.#options.metadata.outbox.append(this.#access.take(n));
    });
  }

  /** The producer path of `POST /stream/event`: validated, published, counted. */
  async publishTelemetry(inputs: unknown, synthetic = false): Promise<readonly SensorEvent[]> {
    const events = sensorEventsFrom(inputs, Date.now(), synthetic);
    try {
      await this.bus.publish(events.map((e) => sensorRecord(this.topics.sensor, e)));
      this.#producerReady = true;
      this.#lastProducerError = null;
    } catch (err) {
      this.#lastProducerError = err instanceof Error ? err.message : String(err);
      throw err;
    }
    this.#count(this.#in, this.topics.sensor, events.length);
    return events;
  }

  /**
   * `POST /simulate/burst`: `events` synthetic access events on stored files, and as many
   * readings from the burst devices, whose last part carries injected anomalies (spikes and a
   * level shift). Devices without enough history first get a warm-up, so the detectors have a
   * baseline and an anomaly alert follows within the burst.
   */
  async burst(events: number): Promise<{ readonly accessEvents: number; readonly readings: number; readonly warmup: number; readonly injected: readonly string[]; readonly telemetryError: string | null }> {
    // Access events first: they go through the outbox, so they are kept whether or not the bus
    // is up; the readings go straight to the bus, and a bus that is down only costs them.
    let accessEvents = 0;
    if (this.#options.files !== undefined) {
      const access = new SyntheticAccess(this.topics.access, events);
      access.setFiles(await this.#options.files());
      const records = access.take(events);
      for (let i = 0; i < records.length; i += 1000) await this.#options.metadata.outbox.append(records.slice(i, i + 1000));
      accessEvents = records.length;
      this.#relay?.nudge();
    }
    const sensors = this.#burstSensors;
    let warmup = 0;
    let sent = 0;
    const injected: string[] = [];
    try {
      const needed = Math.max(0, ...sensors.devices.map((d) => 400 - sensors.history(d)));
      while (warmup < needed * sensors.devices.length) {
        const batch = sensors.take(Math.min(1000, needed * sensors.devices.length - warmup));
        await this.publishTelemetry(batch, true);
        warmup += batch.length;
      }
      const injectAt = Math.floor(events * 0.6);
      const readings: SensorInput[] = [];
      while (readings.length < events) {
        if (readings.length >= injectAt && injected.length === 0) {
          for (const [i, device] of sensors.devices.entries()) {
            sensors.inject(device, i % 2 === 0 ? 'spike' : 'level_shift');
            injected.push(device);
          }
        }
        readings.push(...sensors.tick().slice(0, events - readings.length));
      }
      for (let i = 0; i < readings.length; i += 1000) {
        const batch = readings.slice(i, i + 1000);
        await this.publishTelemetry(batch, true);
        sent += batch.length;
      }
      return { accessEvents, readings: sent, warmup, injected, telemetryError: null };
    } catch (err) {
      return { accessEvents, readings: sent, warmup, injected, telemetryError: err instanceof Error ? err.message : String(err) };
    }
  }

  async metrics(): Promise<StreamingMetrics> {
    const { metadata } = this.#options;
    const rates = (map: Map<string, RateWindow>) => Object.fromEntries([...map].map(([topic, w]) => [topic, w.rates()]));
    const [outbox, health, lagAccess, lagSensor, recent] = await Promise.all([
      metadata.outbox.stats().catch(() => undefined),
      this.bus.health(),
      this.bus.lag(this.groups.stats, [this.topics.access]).catch(() => [] as PartitionLag[]),
      this.bus.lag(this.groups.telemetry, [this.topics.sensor]).catch(() => [] as PartitionLag[]),
      metadata.sensorReadings.latest({ limit: 1000 }).catch(() => []),
    ]);
    const sum = (lags: readonly PartitionLag[]) => Number(lags.reduce((a, l) => a + l.lag, 0n));
    const fiveMinutes = Date.now() - 300_000;
    const relay = this.#relay?.state();
    return {
      bus: this.bus.kind,
      broker_reachable: health.reachable,
      ...(health.detail === undefined ? {} : { broker_detail: health.detail }),
      producer_ready: this.#producerReady && this.#lastProducerError === null,
      producer_error: this.#lastProducerError,
      events_in: rates(this.#in),
      events_out: rates(this.#out),
      active_devices: new Set(recent.filter((r) => r.scoredAt.getTime() >= fiveMinutes).map((r) => r.deviceId)).size,
      detectors_in_memory: this.#telemetry?.detectors.size ?? 0,
      consumer_lag: { [this.groups.stats]: sum(lagAccess), [this.groups.telemetry]: sum(lagSensor) },
      outbox: { depth: outbox?.depth ?? null, oldest_age_s: outbox?.oldestAt === null || outbox === undefined ? 0 : (Date.now() - outbox.oldestAt.getTime()) / 1000 },
      relay: relay === undefined ? null : { shipped: relay.shipped, failures: relay.failures, last_error: relay.lastError, last_shipped_at: relay.lastShippedAt?.toISOString() ?? null },
      anomaly_threshold: this.threshold,
      synthetic_load: this.#options.config.events.syntheticLoad,
    };
  }

  async stop(): Promise<void> {
    this.#started = false;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.length = 0;
    await this.#relay?.stop();
    await Promise.all(this.#subscriptions.map((s) => s.close().catch(() => undefined)));
    this.#subscriptions.length = 0;
    await this.bus.close();
  }
}

export interface StreamingMetrics {
  readonly bus: EventBus['kind'];
  readonly broker_reachable: boolean;
  readonly broker_detail?: string;
  readonly producer_ready: boolean;
  readonly producer_error: string | null;
  readonly events_in: Record<string, { m1: number; m5: number; m15: number }>;
  readonly events_out: Record<string, { m1: number; m5: number; m15: number }>;
  readonly active_devices: number;
  readonly detectors_in_memory: number;
  readonly consumer_lag: Record<string, number>;
  readonly outbox: { readonly depth: number | null; readonly oldest_age_s: number };
  readonly relay: { shipped: number; failures: number; last_error: string | null; last_shipped_at: string | null } | null;
  readonly anomaly_threshold: number;
  readonly synthetic_load: boolean;
}

function locationOf(value: string): string | null {
  try {
    const parsed = JSON.parse(value) as { location?: unknown };
    return typeof parsed.location === 'string' ? parsed.location : null;
  } catch {
    return null;
  }
}

/**
 * Synthetic load, the seed's ENABLE_SYNTHETIC_LOAD and `POST /simulate/burst`: two streams that
 * go through the same paths as real traffic, flagged `synthetic`.
 *
 * - Access events on the stored files, never touching the objects: a few hot files (Zipf
 *   popularity), popularity decaying with a file's rank, periodic reports read in bursts, and
 *   rarely read archives. They go through the outbox and the statistics like real reads, so the
 *   tiering model has something to learn.
 * - IoT temperature telemetry from N devices (`synthetic-sensor-<n>`), stamped with the time they
 *   are made: a daily cycle plus noise, with injected anomalies (spikes, level shifts, drifts,
 *   stuck sensors).
 *
 * Deterministic for a seed (a small xorshift generator), so tests can count on what they get.
 */
import { readCompletedEvent, accessRecord } from './access-events.ts';
import type { OutboxRecord } from '../metadata/index.ts';
import type { SensorInput } from './telemetry.ts';

export interface StoredFile {
  readonly location: string;
  readonly key: string;
  readonly size: number;
}

/** xorshift32: small, fast, seedable; statistical quality is plenty for load shapes. */
export class Random {
  #state: number;
  constructor(seed = 0x2545f491) {
    this.#state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 0x100000000;
  }
  normal(): number {
    const u = Math.max(1e-12, this.next());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export type AnomalyKind = 'spike' | 'level_shift' | 'drift' | 'stuck';

interface Device {
  readonly id: string;
  readonly base: number;
  readonly phase: number;
  readings: number;
  /** An anomaly in progress: what, and how many readings it has left. */
  anomaly: { kind: AnomalyKind; left: number; offset: number; stuckAt: number } | undefined;
  last: number;
}

export class SyntheticSensors {
  readonly #random: Random;
  readonly #devices: Device[];
  readonly #anomalyRate: number;
  #clock: number;

  constructor(options: { devices: number; prefix?: string; seed?: number; anomalyRate?: number }) {
    this.#random = new Random(options.seed);
    this.#anomalyRate = options.anomalyRate ?? 0.002;
    this.#clock = 0;
    this.#devices = Array.from({ length: options.devices }, (_, i) => ({
      id: `${options.prefix ?? 'synthetic-sensor'}-${i + 1}`,
      base: 18 + this.#random.next() * 6,
      phase: this.#random.next() * 2 * Math.PI,
      readings: 0,
      anomaly: undefined,
      last: 20,
    }));
  }

  get devices(): readonly string[] {
    return this.#devices.map((d) => d.id);
  }

  /** Readings each device has produced so far. */
  history(id: string): number {
    return this.#devices.find((d) => d.id === id)?.readings ?? 0;
  }

  /** Starts an anomaly on a device now. */
  inject(id: string, kind: AnomalyKind): void {
    const device = this.#devices.find((d) => d.id === id);
    if (device === undefined) return;
    device.anomaly = { kind, left: kind === 'spike' ? 1 : kind === 'stuck' ? 40 : 60, offset: 0, stuckAt: device.last };
  }

  /** The next reading of every device, stamped now (strictly after the previous tick). */
  tick(): SensorInput[] {
    this.#clock = Math.max(this.#clock + 1, Date.now());
    return this.#devices.map((d) => this.#read(d, this.#clock));
  }

  /** `n` readings spread over the devices, round robin. */
  take(n: number): SensorInput[] {
    const out: SensorInput[] = [];
    while (out.length < n) {
      const batch = this.tick();
      out.push(...batch.slice(0, n - out.length));
    }
    return out;
  }

  #read(d: Device, at: number): SensorInput {
    const daily = 2.5 * Math.sin((2 * Math.PI * (at % 86_400_000)) / 86_400_000 + d.phase);
    let value = d.base + daily + this.#random.normal() * 0.3;
    if (d.anomaly === undefined && d.readings > 200 && this.#random.next() < this.#anomalyRate) {
      const kinds: AnomalyKind[] = ['spike', 'level_shift', 'drift', 'stuck'];
      this.inject(d.id, kinds[this.#random.int(kinds.length)]!);
    }
    const a = d.anomaly;
    if (a !== undefined) {
      if (a.kind === 'spike') value += (this.#random.next() < 0.5 ? -1 : 1) * (15 + this.#random.next() * 10);
      else if (a.kind === 'level_shift') value += 8;
      else if (a.kind === 'drift') {
        a.offset += 0.25;
        value += a.offset;
      } else value = a.stuckAt;
      a.left -= 1;
      if (a.left <= 0) d.anomaly = undefined;
    }
    d.readings += 1;
    d.last = value;
    return { device_id: d.id, ts: at, value: Math.round(value * 1000) / 1000 };
  }
}

/**
 * Access events on stored files: file i of n is read with probability ∝ 1 / (i + 1)^1.1 (a few
 * hot files, a long tail), a tenth of the files are "reports" read in a burst once a period, and
 * the last tenth are archives, almost never read.
 */
export class SyntheticAccess {
  readonly #random: Random;
  readonly #topic: string;
  #files: readonly StoredFile[] = [];
  #weights: Float64Array = new Float64Array(0);
  #total = 0;
  #tick = 0;

  constructor(topic: string, seed?: number) {
    this.#topic = topic;
    this.#random = new Random(seed);
  }

  setFiles(files: readonly StoredFile[]): void {
    this.#files = files;
    this.#weights = new Float64Array(files.length);
    this.#total = 0;
    const archives = Math.floor(files.length * 0.9);
    for (let i = 0; i < files.length; i += 1) {
      const w = i >= archives && files.length >= 10 ? 0.001 : 1 / (i + 1) ** 1.1;
      this.#weights[i] = w;
      this.#total += w;
    }
  }

  get files(): number {
    return this.#files.length;
  }

  #pick(): StoredFile | undefined {
    if (this.#files.length === 0) return undefined;
    let r = this.#random.next() * this.#total;
    for (let i = 0; i < this.#weights.length; i += 1) {
      r -= this.#weights[i]!;
      if (r <= 0) return this.#files[i];
    }
    return this.#files[this.#files.length - 1];
  }

  /** `n` synthetic `read.completed` events as outbox records. */
  take(n: number, now = new Date()): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    this.#tick += 1;
    // Reports: every 50th batch, each report file is read once.
    const reports = this.#tick % 50 === 0 ? this.#files.slice(Math.floor(this.#files.length * 0.8), Math.floor(this.#files.length * 0.9)) : [];
    for (const file of reports) out.push(this.#event(file, now));
    while (out.length < n + reports.length) {
      const file = this.#pick();
      if (file === undefined) break;
      out.push(this.#event(file, now));
    }
    return out;
  }

  #event(file: StoredFile, now: Date): OutboxRecord {
    // Read latency: log-normal around 40 ms, with a rare slow read.
    const latency = Math.exp(Math.log(40) + 0.5 * this.#random.normal()) * (this.#random.next() < 0.002 ? 50 : 1);
    return accessRecord(this.#topic, readCompletedEvent({ principal: 'synthetic', location: file.location, key: file.key, version: null, bytes: file.size, latencyMs: latency, outcome: 'ok', synthetic: true }, now));
  }
}

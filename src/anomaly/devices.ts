/**
 * One streaming anomaly detector per device, for telemetry from many sensors: the number of
 * live detectors is capped (`maxDevices`) and the least recently seen device's detector is
 * dropped to make room, so memory stays bounded however many devices come and go. A device
 * seen again after eviction starts from scratch (its warm-up scores 0 again).
 *
 * Out-of-order events: an event older than the latest one seen for its device is *late*; it is
 * not learnt (the detector models the sequence in time order and cannot insert into its past)
 * and scores 0, unflagged, with `late: true`, counted in `lateEvents`. An event with the same
 * timestamp as the latest is in order. Non-finite values score 0 and are not learnt.
 */
import { AnomalyDetector, DEFAULT_ANOMALY_THRESHOLD, type DetectorOptions } from './detector.ts';

export interface DeviceDetectorsOptions {
  /** Most devices with a live detector (default 10 000). */
  readonly maxDevices?: number;
  /** Score at or above which an event is flagged (default DEFAULT_ANOMALY_THRESHOLD). */
  readonly threshold?: number;
  /** Options of every device's detector. */
  readonly detector?: DetectorOptions;
}

export interface Observation {
  /** Anomaly score in [0, 1]. */
  readonly score: number;
  /** score ≥ threshold. */
  readonly flagged: boolean;
  /** The event was older than the device's latest one: not learnt, score 0. */
  readonly late: boolean;
}

const LATE: Observation = { score: 0, flagged: false, late: true };

export class DeviceDetectors {
  readonly maxDevices: number;
  readonly threshold: number;
  readonly #detectorOptions: DetectorOptions;
  /** In least-recently-seen-first order (a Map keeps insertion order; seeing a device re-inserts it). */
  readonly #detectors = new Map<string, AnomalyDetector>();
  #evictions = 0;
  #lateEvents = 0;

  constructor(options: DeviceDetectorsOptions = {}) {
    this.maxDevices = options.maxDevices ?? 10_000;
    if (!Number.isInteger(this.maxDevices) || this.maxDevices < 1) throw new RangeError('DeviceDetectors: maxDevices must be a positive integer');
    this.threshold = options.threshold ?? DEFAULT_ANOMALY_THRESHOLD;
    this.#detectorOptions = options.detector ?? {};
  }

  /** Scores one event of a device (and learns from it). */
  observe(deviceId: string, timestampMs: number, value: number): Observation {
    let detector = this.#detectors.get(deviceId);
    if (detector === undefined) {
      detector = new AnomalyDetector(this.#detectorOptions);
      if (this.#detectors.size >= this.maxDevices) {
        const oldest = this.#detectors.keys().next();
        if (oldest.done !== true) {
          this.#detectors.delete(oldest.value);
          this.#evictions++;
        }
      }
    } else {
      this.#detectors.delete(deviceId);
    }
    this.#detectors.set(deviceId, detector);
    if (timestampMs < detector.lastTimestamp) {
      this.#lateEvents++;
      return LATE;
    }
    const score = detector.update(timestampMs, value);
    return { score, flagged: score >= this.threshold, late: false };
  }

  /** Devices with a live detector. */
  get size(): number {
    return this.#detectors.size;
  }

  /** Detectors dropped to respect maxDevices. */
  get evictions(): number {
    return this.#evictions;
  }

  /** Events older than their device's latest (not learnt). */
  get lateEvents(): number {
    return this.#lateEvents;
  }

  has(deviceId: string): boolean {
    return this.#detectors.has(deviceId);
  }

  /** Forgets a device's detector (e.g. a decommissioned sensor). */
  delete(deviceId: string): boolean {
    return this.#detectors.delete(deviceId);
  }

  /** Bytes of the detectors' typed-array state (the bulk of their memory). */
  get stateBytes(): number {
    let bytes = 0;
    for (const d of this.#detectors.values()) bytes += d.stateBytes;
    return bytes;
  }
}

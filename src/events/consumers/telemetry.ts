/**
 * The telemetry consumer: scores each sensor reading with its device's streaming detector
 * (src/anomaly/), keeps the scored reading for `GET /stream/peek`, and raises an `anomaly` alert
 * for a flagged one. Detectors live in this process's memory, capped at MOVINGDATA_MAX_DEVICES
 * (least recently seen evicted); records are keyed by device, so with several consumer
 * processes each device is scored by the one that holds its partition. After a rebalance the
 * new holder starts that device's detector afresh (a warm-up of NAB's probation length).
 */
import { DeviceDetectors } from '../../anomaly/devices.ts';
import type { SensorReading, SensorReadings } from '../../metadata/index.ts';
import type { AlertManager } from '../alerts.ts';
import type { EventBus, Subscription } from '../port.ts';
import { decodeSensorEvent } from '../telemetry.ts';
import { deadLetter } from './dead-letter.ts';

export const TELEMETRY_GROUP = 'movingdata-telemetry';

export interface TelemetryConsumerOptions {
  readonly bus: EventBus;
  readonly readings: SensorReadings;
  readonly alerts?: AlertManager;
  readonly topic: string;
  readonly maxDevices: number;
  readonly threshold?: number;
  readonly group?: string;
  readonly onError?: (err: unknown) => void;
  /** Per batch: readings scored and how many were flagged (metrics, the live feed). */
  readonly onScored?: (readings: readonly SensorReading[]) => void;
}

export interface TelemetryConsumer {
  readonly subscription: Subscription;
  readonly detectors: DeviceDetectors;
}

export async function startTelemetryConsumer(options: TelemetryConsumerOptions): Promise<TelemetryConsumer> {
  const group = options.group ?? TELEMETRY_GROUP;
  const detectors = new DeviceDetectors({ maxDevices: options.maxDevices, ...(options.threshold === undefined ? {} : { threshold: options.threshold }) });
  const subscription = await options.bus.subscribe({
    group,
    topics: [options.topic],
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    handler: async (batch) => {
      const scored: SensorReading[] = [];
      for (const record of batch) {
        const event = decodeSensorEvent(record.value);
        if ('error' in event) {
          await deadLetter(options.bus, group, record, event.error);
          continue;
        }
        const ts = new Date(event.ts);
        const { score, flagged } = detectors.observe(event.device_id, ts.getTime(), event.value);
        scored.push({ deviceId: event.device_id, ts, value: event.value, score, flagged, eventId: event.event_id, receivedAt: new Date(event.received_at) });
      }
      await options.readings.record(scored);
      options.onScored?.(scored);
      if (options.alerts !== undefined) {
        for (const reading of scored.filter((r) => r.flagged)) {
          await options.alerts.raise({
            kind: 'anomaly',
            subject: reading.deviceId,
            severity: reading.score >= 0.9 ? 'critical' : 'warning',
            message: `anomalous reading ${reading.value} from ${reading.deviceId} (score ${reading.score.toFixed(3)})`,
            details: { device_id: reading.deviceId, value: reading.value, score: reading.score, ts: reading.ts.toISOString() },
          });
        }
      }
    },
  });
  return { subscription, detectors };
}

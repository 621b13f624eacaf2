/**
 * The access-statistics consumer: folds access events into per-file, per-day counts (reads,
 * writes, deletes, bytes, read latency and its spikes) and the last read and last write of each
 * file, kept apart: the tiering model's features. Idempotent by `event_id` (the store claims each
 * id with the counts, in one transaction), so redelivery after a crash or a rebalance counts
 * nothing twice. A read counts once, by its `read.completed` event (which carries bytes and
 * latency); a read slower than ALERT_LATENCY_MS is a spike and raises a `latency` alert.
 */
import type { AccessStatEvent, AccessStats } from '../../metadata/index.ts';
import { decodeAccessEvent } from '../access-events.ts';
import type { AlertManager } from '../alerts.ts';
import type { DeliveredRecord, EventBus, Subscription } from '../port.ts';
import { deadLetter } from './dead-letter.ts';

export const ACCESS_STATS_GROUP = 'movingdata-access-stats';

export interface AccessStatsConsumerOptions {
  readonly bus: EventBus;
  readonly stats: AccessStats;
  readonly alerts?: AlertManager;
  readonly topic: string;
  readonly latencyAlertMs: number;
  readonly group?: string;
  readonly onError?: (err: unknown) => void;
  /** Called with the number of events applied per batch (metrics). */
  readonly onApplied?: (applied: number, seen: number) => void;
}

export function statEventOf(record: DeliveredRecord, latencyAlertMs: number): AccessStatEvent | { readonly error: string } | undefined {
  const event = decodeAccessEvent(record.value);
  if ('error' in event) return event;
  if (event.location === null || event.key === null) return undefined;
  const at = new Date(event.ts);
  const base = { eventId: event.event_id, location: event.location, key: event.key, at, synthetic: event.synthetic };
  switch (event.type) {
    case 'read.completed':
      return { ...base, kind: 'read', bytes: event.bytes ?? 0, latencyMs: event.latency_ms, spike: (event.latency_ms ?? 0) > latencyAlertMs };
    case 'write':
    case 'replicate':
      return event.outcome === 'allowed' ? { ...base, kind: 'write', bytes: event.bytes ?? 0, latencyMs: null, spike: false } : undefined;
    case 'delete':
      return event.outcome === 'allowed' ? { ...base, kind: 'delete', bytes: 0, latencyMs: null, spike: false } : undefined;
    default:
      return undefined;
  }
}

export async function startAccessStatsConsumer(options: AccessStatsConsumerOptions): Promise<Subscription> {
  const group = options.group ?? ACCESS_STATS_GROUP;
  return options.bus.subscribe({
    group,
    topics: [options.topic],
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    handler: async (batch) => {
      const events: AccessStatEvent[] = [];
      for (const record of batch) {
        const event = statEventOf(record, options.latencyAlertMs);
        if (event === undefined) continue;
        if ('error' in event) {
          await deadLetter(options.bus, group, record, event.error);
          continue;
        }
        events.push(event);
      }
      const applied = await options.stats.apply(group, events);
      options.onApplied?.(applied, batch.length);
      if (options.alerts !== undefined) {
        const spikes = events.filter((e) => e.spike);
        for (const location of new Set(spikes.map((e) => e.location))) {
          const worst = Math.max(...spikes.filter((e) => e.location === location).map((e) => e.latencyMs ?? 0));
          await options.alerts.raise({
            kind: 'latency',
            subject: location,
            severity: 'warning',
            message: `reads at ${location} slower than ${options.latencyAlertMs} ms (worst ${Math.round(worst)} ms)`,
            details: { location, worst_ms: worst, threshold_ms: options.latencyAlertMs },
          });
        }
      }
    },
  });
}

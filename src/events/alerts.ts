/**
 * Alerts: raised by the consumers and the service's own checks, stored (`AlertStore`: one live
 * alert per kind and subject, de-duplicated while the condition lasts), resolved when it clears
 * (a one-off, such as an anomaly or a latency spike, after a quiet period without a new
 * occurrence), and published as events on TOPIC_ALERTS when they open and when they resolve.
 *
 * Kinds: `anomaly` (a device's reading scored at or above ALERT_ANOMALY_SCORE; subject: the
 * device), `latency` (a read slower than ALERT_LATENCY_MS; subject: the location),
 * `outbox_backlog` (events waiting longer than ALERT_OUTBOX_AGE_S), `bus_unreachable`, and
 * `cost` (next issue: ALERT_COST_MONTHLY_USD).
 */
import type { Alert, AlertStore, JsonObject, NewAlert } from '../metadata/index.ts';
import type { EventBus } from './port.ts';

/** Kinds that clear by themselves after a quiet period. */
export const ONE_OFF_KINDS = ['anomaly', 'latency'] as const;

export interface AlertManagerOptions {
  readonly topic: string;
  readonly quietMs: number;
  readonly onError?: (err: unknown) => void;
  /** Called when an alert opens (metrics, the live feed). */
  readonly onOpened?: (alert: Alert) => void;
}

export interface AlertJson {
  readonly id: string;
  readonly kind: string;
  readonly subject: string;
  readonly severity: string;
  readonly state: string;
  readonly message: string;
  readonly details: JsonObject;
  readonly occurrences: number;
  readonly first_at: string;
  readonly last_at: string;
  readonly acked_at: string | null;
  readonly acked_by: string | null;
  readonly resolved_at: string | null;
}

export function alertView(alert: Alert): AlertJson {
  return {
    id: alert.id,
    kind: alert.kind,
    subject: alert.subject,
    severity: alert.severity,
    state: alert.state,
    message: alert.message,
    details: alert.details,
    occurrences: alert.occurrences,
    first_at: alert.firstAt.toISOString(),
    last_at: alert.lastAt.toISOString(),
    acked_at: alert.ackedAt?.toISOString() ?? null,
    acked_by: alert.ackedBy,
    resolved_at: alert.resolvedAt?.toISOString() ?? null,
  };
}

export class AlertManager {
  readonly #store: AlertStore;
  readonly #bus: EventBus;
  readonly #options: AlertManagerOptions;

  constructor(store: AlertStore, bus: EventBus, options: AlertManagerOptions) {
    this.#store = store;
    this.#bus = bus;
    this.#options = options;
  }

  get store(): AlertStore {
    return this.#store;
  }

  async raise(alert: NewAlert): Promise<Alert> {
    const { alert: stored, created } = await this.#store.raise(alert);
    if (created) {
      this.#options.onOpened?.(stored);
      await this.#publish('alert.opened', stored);
    }
    return stored;
  }

  async resolve(kind: string, subject: string): Promise<void> {
    const resolved = await this.#store.resolve(kind, subject);
    if (resolved !== undefined) await this.#publish('alert.resolved', resolved);
  }

  /** Resolves one-off alerts that have been quiet for the quiet period. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const kind of ONE_OFF_KINDS) {
      for (const resolved of await this.#store.resolveQuiet(kind, this.#options.quietMs)) {
        n += 1;
        await this.#publish('alert.resolved', resolved);
      }
    }
    return n;
  }

  /** Best effort: an alert is stored whether or not the bus takes its event. */
  async #publish(type: string, alert: Alert): Promise<void> {
    try {
      await this.#bus.publish([{ topic: this.#options.topic, key: `${alert.kind}:${alert.subject}`, value: JSON.stringify({ schema: 1, type, ts: new Date().toISOString(), alert: alertView(alert) }) }]);
    } catch (err) {
      this.#options.onError?.(err);
    }
  }
}

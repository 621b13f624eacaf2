/**
 * What the control plane's routes answer, as the dashboard reads it: written from the TypeBox
 * route schemas (src/api/routes/*.ts). The root type-check holds them to those schemas
 * (test/web/api-types.ts): a server answer that stops fitting one of these fails `npm test`.
 *
 * Types only: no DOM, no runtime, so the server's type-check can read this file too.
 */

export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly request_id: string; readonly details?: Readonly<Record<string, unknown>> };
}

export type DependencyStatus = 'ok' | 'error' | 'timeout';

export interface Dependency {
  readonly name: string;
  readonly kind: string;
  readonly status: DependencyStatus;
  readonly latency_ms: number;
  readonly target?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** GET /health (also its 503 answer, when the metadata store is down). */
export interface Health {
  readonly status: 'ok' | 'degraded' | 'down';
  readonly version: string;
  readonly uptime_s: number;
  readonly checked_at: string;
  readonly dependencies: readonly Dependency[];
  readonly alerts: { readonly open: number; readonly acknowledged: number; readonly by_kind: Readonly<Record<string, number>> };
}

/** POST /session */
export interface Session {
  readonly name: string;
  readonly roles: readonly string[];
  readonly csrf_token: string;
}

/** GET /session */
export type SessionState = { readonly signed_in: true; readonly name: string; readonly roles: readonly string[]; readonly csrf_token: string } | { readonly signed_in: false };

/** GET /me */
export interface Me {
  readonly name: string;
  readonly roles: readonly string[];
  readonly authenticated_by: 'bearer' | 'cookie';
  readonly csrf_token: string | null;
  readonly locations: ReadonlyArray<{ readonly name: string; readonly provider: string; readonly read: boolean; readonly write: boolean }>;
  /** `audit`: GET /audit/verify and /audit/export (admin, system); absent from a server older than the Audit page. */
  readonly can: { readonly view_operations: boolean; readonly manage_tokens: boolean; readonly seed: boolean; readonly audit?: boolean };
}

export interface Tally {
  readonly objects: number;
  readonly bytes: number;
}

/** GET /inventory */
export interface InventorySummary {
  readonly locations: ReadonlyArray<{
    readonly location: string;
    readonly objects: number;
    readonly bytes: number;
    readonly stored_bytes: number;
    readonly by_state: Readonly<Record<string, Tally>>;
    readonly by_tier: Readonly<Record<string, Tally>>;
  }>;
}

/** GET /consistency/status (the parts the dashboard shows). */
export interface ConsistencyStatus {
  readonly drift: Readonly<Record<string, number>>;
  readonly drift_total: number;
  readonly retries: { readonly retrying: number; readonly dead: number };
  readonly locations: ReadonlyArray<{
    readonly location: string;
    readonly last_scan_at: string | null;
    readonly last_successful_sync: string | null;
    readonly objects: number | null;
  }>;
}

export type AlertState = 'open' | 'acknowledged' | 'resolved';

export interface Alert {
  readonly id: string;
  readonly kind: string;
  readonly subject: string;
  readonly severity: string;
  readonly state: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly occurrences: number;
  readonly first_at: string;
  readonly last_at: string;
  readonly acked_at: string | null;
  readonly acked_by: string | null;
  readonly resolved_at: string | null;
}

/** GET /alerts */
export interface AlertPage {
  readonly alerts: readonly Alert[];
  readonly next_cursor: string | null;
}

export interface Rate {
  readonly m1: number;
  readonly m5: number;
  readonly m15: number;
}

/** GET /streaming/metrics (the parts the dashboard shows). */
export interface StreamingMetrics {
  readonly bus: string;
  readonly broker_reachable: boolean;
  readonly events_in: Readonly<Record<string, Rate>>;
  readonly events_out: Readonly<Record<string, Rate>>;
  readonly active_devices: number;
  readonly outbox: { readonly depth: number | null; readonly oldest_age_s: number };
}

/** What GET /stream/live sends, by event name. */
export type LiveEventType = 'access' | 'reading' | 'alert';

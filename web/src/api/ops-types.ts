/**
 * What the operations pages (Replication, Tiering, Streams, Audit) read from the API, written
 * from the TypeBox route schemas (src/api/routes/consistency.ts, tiering.ts, stream.ts,
 * audit.ts). The root type-check holds them to those schemas (test/web/ops-api-types.ts).
 *
 * Types only: no DOM, no runtime, so the server's type-check can read this file too.
 */
import type { ConsistencyStatus, StreamingMetrics } from './types.ts';

export type DriftCounts = Readonly<Record<string, number>>;

/** GET /consistency/status, all of it. */
export interface ConsistencyDetail extends ConsistencyStatus {
  readonly locations: ReadonlyArray<ConsistencyStatus['locations'][number] & { readonly drift: DriftCounts | null }>;
  readonly recent_conflicts: ReadonlyArray<{ readonly location: string; readonly key: string; readonly detail: string; readonly stored_size: number | null; readonly stored_at: string | null }>;
  /** By kind, then state (queued, running, succeeded, failed, dead, retrying, stalled). */
  readonly jobs: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';

/** GET /jobs/{id}, and each job of POST /consistency/scan. */
export interface JobView {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly attempts: number;
  readonly result: unknown;
  readonly last_error: string | null;
}

/** One job of GET /jobs. */
export interface JobItem {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly attempts: number;
  readonly max_attempts: number;
  readonly last_error: string | null;
  readonly location: string | null;
  readonly subject: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly run_after: string;
  readonly finished_at: string | null;
}

/** GET /jobs */
export interface JobList {
  readonly jobs: readonly JobItem[];
  readonly next_cursor: string | null;
  readonly counts: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** POST /jobs/{id}/retry */
export interface RetryReply {
  readonly ok: boolean;
  readonly job: JobItem;
}

/** POST /consistency/scan */
export interface ScanReply {
  readonly ok: boolean;
  readonly jobs: readonly JobView[];
}

export interface RuleReason {
  readonly rule: string;
  readonly verdict: string;
  readonly detail: string;
}

/** One item of GET /predictive/recommendations. */
export interface Recommendation {
  readonly location: string;
  readonly key: string;
  readonly version: number;
  readonly size: number;
  readonly tier: string;
  readonly recommended: string;
  readonly to_location: string;
  readonly change: string;
  readonly proposed: string;
  readonly confidence: number;
  readonly source: string;
  readonly monthly_cost: number;
  readonly recommended_monthly_cost: number;
  readonly expected_monthly_saving: number;
  readonly move_cost: number;
  readonly reasons: readonly RuleReason[];
}

export interface RecommendationPage {
  readonly items: readonly Recommendation[];
  readonly next_cursor: string | null;
}

/** One decision of GET /tiering/decisions (and of POST /tiering/run). */
export interface Decision {
  readonly id: string;
  readonly run_id: string;
  readonly location: string;
  readonly key: string;
  readonly change: string;
  readonly from_tier: string;
  readonly to_tier: string;
  readonly to_location: string;
  readonly confidence: number;
  readonly rules: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly expected_monthly_saving: number;
  readonly move_cost: number;
  readonly state: string;
  readonly error: string | null;
  readonly created_by: string;
  readonly created_at: string;
}

export interface DecisionPage {
  readonly decisions: readonly Decision[];
  readonly next_cursor: string | null;
}

/** POST /tiering/run */
export interface RunReport {
  readonly run_id: string;
  readonly dry_run: boolean;
  readonly considered: number;
  readonly expected_monthly_saving: number;
  readonly decisions: readonly Decision[];
}

export type ModelMetrics = Readonly<Record<string, unknown>>;

export interface ModelSummary {
  readonly version: number;
  readonly kind: string;
  readonly trained_on: string;
  readonly records: number;
  readonly metrics: ModelMetrics;
  readonly created_by: string;
  readonly created_at: string;
}

/** GET /predictive/model */
export interface ModelInfo {
  readonly source: string;
  readonly version: number | null;
  readonly kind: string | null;
  readonly trained_on_records: number | null;
  readonly metrics: ModelMetrics | null;
  readonly features: readonly string[];
  readonly history: readonly ModelSummary[];
}

/** POST /predictive/train */
export interface TrainReply {
  readonly ok: boolean;
  readonly model: ModelSummary;
  readonly trained_on: string;
  readonly labels: Readonly<Record<string, number>>;
}

export interface PolicyCost {
  readonly name: string;
  readonly label: string;
  readonly kind: 'ours' | 'baseline' | 'optimum';
  readonly total: number;
  readonly monthly: number;
  readonly over_optimum: number;
}

/** GET /tiering/policies */
export interface PolicyComparison {
  readonly currency: string;
  readonly prices: string;
  readonly days: number;
  readonly files: number;
  readonly bytes: number;
  readonly truncated: boolean;
  readonly model: { readonly source: string; readonly version: number | null };
  readonly policies: readonly PolicyCost[];
  readonly cheapest: string | null;
  readonly elapsed_ms: number;
}

/** GET /tiering/costs (the totals the page shows). */
export interface TieringCosts {
  readonly currency: string;
  readonly locations: ReadonlyArray<{
    readonly location: string;
    readonly provider: string;
    readonly files: number;
    readonly bytes: number;
    readonly monthly_cost: number;
    readonly recommended_monthly_cost: number;
    readonly projected_monthly_saving: number;
    readonly changes: number;
    readonly tiers: Readonly<Record<string, { readonly files: number; readonly bytes: number; readonly monthly_cost: number }>>;
  }>;
  readonly total: { readonly files: number; readonly bytes: number; readonly monthly_cost: number; readonly recommended_monthly_cost: number; readonly projected_monthly_saving: number };
}

/** GET /streaming/metrics, all of it. */
export interface StreamingDetail extends StreamingMetrics {
  readonly broker_detail?: string;
  readonly producer_ready: boolean;
  readonly producer_error: string | null;
  readonly detectors_in_memory: number;
  readonly consumer_lag: Readonly<Record<string, number>>;
  readonly relay: { readonly shipped: number; readonly failures: number; readonly last_error: string | null; readonly last_shipped_at: string | null } | null;
  readonly anomaly_threshold: number;
  readonly synthetic_load: boolean;
}

export interface ScoredReading {
  readonly device_id: string;
  readonly ts: string;
  readonly value: number;
  readonly anomaly_score: number;
  readonly anomaly: boolean;
  readonly event_id: string | null;
  readonly received_at: string;
  readonly scored_at: string;
}

/** GET /stream/peek */
export interface Peek {
  readonly threshold: number;
  readonly events: readonly ScoredReading[];
}

/** POST /simulate/burst */
export interface BurstReply {
  readonly access_events: number;
  readonly readings: number;
  readonly warmup_readings: number;
  readonly anomalies_injected_on: readonly string[];
  readonly telemetry_error: string | null;
}

/** GET /audit/verify */
export interface AuditVerify {
  readonly ok: boolean;
  readonly entries: number;
  readonly head: { readonly seq: number; readonly hash: string } | null;
  readonly problem?: { readonly seq: number; readonly kind: 'edited' | 'deleted_or_inserted' | 'reordered'; readonly message: string };
}

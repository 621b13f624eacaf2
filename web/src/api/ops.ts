/**
 * The operations pages' calls (Replication, Tiering, Streams, Audit), typed, over the one
 * client (./client.ts): same origin, the session cookie, the CSRF header on every change.
 */
import type { ApiClient } from './client.ts';
import type {
  AuditVerify,
  BurstReply,
  ConsistencyDetail,
  DecisionPage,
  JobList,
  JobState,
  JobView,
  ModelInfo,
  Peek,
  PolicyComparison,
  RecommendationPage,
  RetryReply,
  RunReport,
  ScanReply,
  StreamingDetail,
  TieringCosts,
  TrainReply,
} from './ops-types.ts';

export class OpsApi {
  readonly #client: ApiClient;

  constructor(client: ApiClient) {
    this.#client = client;
  }

  consistency(): Promise<ConsistencyDetail> {
    return this.#client.request('GET', '/consistency/status');
  }

  /** Scan every location now; not waited for (202 with the scan jobs). */
  scan(options: { readonly deep?: boolean } = {}): Promise<ScanReply> {
    return this.#client.request('POST', '/consistency/scan', { body: { wait: false, ...(options.deep === true ? { deep: true } : {}) } });
  }

  job(id: string): Promise<JobView> {
    return this.#client.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  jobs(query: { readonly kind?: string; readonly state?: JobState; readonly limit?: number; readonly cursor?: string } = {}): Promise<JobList> {
    return this.#client.request('GET', '/jobs', { query });
  }

  retryJob(id: string): Promise<RetryReply> {
    return this.#client.request('POST', `/jobs/${encodeURIComponent(id)}/retry`);
  }

  recommendations(query: { readonly changes_only?: boolean; readonly location?: string; readonly limit?: number; readonly cursor?: string } = {}): Promise<RecommendationPage> {
    return this.#client.request('GET', '/predictive/recommendations', { query });
  }

  decisions(query: { readonly limit?: number; readonly cursor?: string } = {}): Promise<DecisionPage> {
    return this.#client.request('GET', '/tiering/decisions', { query });
  }

  /** A dry run: every change a decision, none carried out. */
  dryRun(): Promise<RunReport> {
    return this.#client.request('POST', '/tiering/run', { body: { dry_run: true } });
  }

  costs(): Promise<TieringCosts> {
    return this.#client.request('GET', '/tiering/costs');
  }

  policies(): Promise<PolicyComparison> {
    return this.#client.request('GET', '/tiering/policies');
  }

  model(): Promise<ModelInfo> {
    return this.#client.request('GET', '/predictive/model');
  }

  /** Train on the stored access statistics, auto-labelled by the offline optimum. */
  train(): Promise<TrainReply> {
    return this.#client.request('POST', '/predictive/train', { body: {} });
  }

  streaming(): Promise<StreamingDetail> {
    return this.#client.request('GET', '/streaming/metrics');
  }

  peek(limit = 300): Promise<Peek> {
    return this.#client.request('GET', '/stream/peek', { query: { limit } });
  }

  burst(events = 250): Promise<BurstReply> {
    return this.#client.request('POST', '/simulate/burst', { body: { events } });
  }

  verifyAudit(): Promise<AuditVerify> {
    return this.#client.request('GET', '/audit/verify');
  }

  /** The export as a link the browser downloads itself (the cookie authenticates it). */
  auditExportUrl(afterSeq?: number): string {
    return this.#client.url('/audit/export', { after_seq: afterSeq });
  }
}

/**
 * The consistency manager: drift scans (drift.ts) per location, periodic and on demand, each
 * drift item turned into a repair job (retried with backoff by the job queue, dead-lettered
 * after its attempts), and the status the API reports.
 *
 * Repair uses the last verified version as the source:
 * - missing, differing, conflict, failed: the replica is marked failed (if it still said
 *   verified) and copied again from a verified replica elsewhere (Replicator.replicate);
 * - pending_delete: the object the metadata already calls deleted is removed;
 * - orphan: reported; removed only when configured to (an object we did not write may be
 *   someone else's), with the decision in the audit trail either way.
 */
import type { AuditTrail } from '../audit/audit-trail.ts';
import { MovingDataError, isMovingDataError } from '../errors.ts';
import type { JsonObject, MetadataStore } from '../metadata/index.ts';
import { DRIFT_KINDS, emptyCounts, scanLocation, type DriftItem, type DriftKind, type LocationScan } from './drift.ts';
import type { Replicator } from './replicator.ts';
import { payloadText, type JobOutcome, type JobRunner, type PayloadHandler } from '../jobs/runner.ts';

export interface ConsistencyOptions {
  /** Remove objects unknown to the metadata (default false: report them). */
  readonly deleteOrphans: boolean;
  /** Attempts per repair before it is dead-lettered (default 8). */
  readonly repairAttempts?: number;
  /** A copy in flight longer than this was left by a crashed writer (default 1 h). */
  readonly staleWriteMs?: number;
}

export interface ConsistencyDeps {
  readonly metadata: MetadataStore;
  readonly replicator: Replicator;
  readonly audit: AuditTrail;
}

/** What a scan job returns (and the status keeps): the report minus most of the items. */
export interface ScanSummary extends JsonObject {
  readonly location: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly objects: number;
  readonly replicas: number;
  readonly drift: Record<DriftKind, number>;
  readonly repairs_queued: number;
  readonly conflicts: Array<{ key: string; detail: string; stored_size: number | null; stored_at: string | null }>;
}

const MAX_CONFLICTS_KEPT = 20;

function summary(scan: LocationScan, repairsQueued: number): ScanSummary {
  return {
    location: scan.location,
    started_at: scan.startedAt,
    finished_at: scan.finishedAt,
    objects: scan.objects,
    replicas: scan.replicas,
    drift: { ...scan.counts },
    repairs_queued: repairsQueued,
    conflicts: scan.items
      .filter((i) => i.kind === 'conflict')
      .slice(0, MAX_CONFLICTS_KEPT)
      .map((i) => ({ key: i.objectKey, detail: i.detail, stored_size: i.stored?.size ?? null, stored_at: i.stored?.lastModified ?? null })),
  };
}

export function totalDrift(counts: Readonly<Record<DriftKind, number>>): number {
  return DRIFT_KINDS.reduce((sum, kind) => sum + counts[kind], 0);
}

function driftItemPayload(item: DriftItem): JsonObject {
  return {
    kind: item.kind,
    location: item.location,
    object_key: item.objectKey,
    ...(item.fileId === undefined ? {} : { file_id: item.fileId }),
    ...(item.version === undefined ? {} : { version: item.version }),
    detail: item.detail,
  };
}

export class ConsistencyManager {
  readonly #deps: ConsistencyDeps;
  readonly #options: ConsistencyOptions;

  constructor(deps: ConsistencyDeps, options: ConsistencyOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  /** Scan one location and queue a repair per drift item; the summary is what the status shows. */
  async scanAndQueueRepairs(location: string, jobs: JobRunner, signal?: AbortSignal, options: { deep?: boolean } = {}): Promise<ScanSummary> {
    const { replicator } = this.#deps;
    const store = replicator.store(location).inner;
    const scan = await scanLocation(this.#deps.metadata, store, location, {
      staleAfterMs: this.#options.staleWriteMs ?? 3_600_000,
      ...(signal ? { signal } : {}),
      ...(options.deep === true ? { deepCheck: (replica) => replicator.checkSeal(replica, signal) } : {}),
    });
    // One batch, not a round trip per item: a scan can find thousands. Orphans a crashed write
    // of ours left (they name their file) are always removed; others only when configured to.
    const repairs = scan.items
      .filter((item) => item.kind !== 'orphan' || item.fileId !== undefined || this.#options.deleteOrphans)
      .map((item) => ({
        kind: 'repair',
        payload: { ...driftItemPayload(item), ...(options.deep === true ? { deep: true } : {}) },
        options: { dedupeKey: `repair:${location}:${item.objectKey}`, maxAttempts: this.#options.repairAttempts ?? 8 },
      }));
    await jobs.submitMany(repairs);
    const result = summary(scan, repairs.length);
    await this.#deps.metadata.consistency.save(location, result, totalDrift(scan.counts) === 0);
    return result;
  }

  /** Repair one drift item (idempotent: re-checks what is there first). */
  async repair(item: JsonObject, signal?: AbortSignal): Promise<JsonObject> {
    const { replicator, metadata, audit } = this.#deps;
    const kind = item['kind'] as DriftKind;
    const location = payloadText(item, 'location');
    const objectKey = payloadText(item, 'object_key');
    const store = replicator.store(location).inner;
    switch (kind) {
      case 'pending_delete':
        await store.delete(objectKey, signal);
        return { action: 'deleted', location, key: objectKey };
      case 'orphan':
        if (typeof item['file_id'] === 'string') return this.#reconcile(item, location, objectKey, signal);
        if (!this.#options.deleteOrphans) return { action: 'reported', location, key: objectKey };
        await audit.policy({ principal: 'system', decision: 'delete_orphan', location, objectKey });
        await store.delete(objectKey, signal);
        return { action: 'deleted', location, key: objectKey };
      case 'missing':
      case 'differing':
      case 'conflict':
      case 'failed': {
        const fileId = payloadText(item, 'file_id');
        const version = Number(item['version']);
        const ref = { fileId, version, location };
        const replica = await metadata.getReplica(ref).catch((err: unknown) => {
          if (isMovingDataError(err) && err.code === 'not_found') return undefined;
          throw err;
        });
        if (replica === undefined) return { action: 'skipped', reason: 'replica no longer recorded' };
        if (replica.state === 'writing' || replica.state === 'pending') return this.#reconcile(item, location, objectKey, signal);
        // A copy of a write that never committed is nothing to restore: it is removed.
        if ((await metadata.getVersion(fileId, version)).state !== 'committed') return this.#reconcile(item, location, objectKey, signal);
        if (replica.state === 'verified') {
          // Re-check before undoing anything: the drift may have been fixed meanwhile.
          const check = await replicator.verify(replica, { deep: item['deep'] === true, ...(signal ? { signal } : {}) });
          if (check.ok) return { action: 'none', reason: 'in sync now' };
          await metadata.transitionReplica(ref, { from: 'verified', to: 'failed', lastError: `${kind}: ${check.message}` });
        }
        if (kind === 'conflict') {
          await audit.policy({ principal: 'system', decision: 'overwrite_conflict', location, objectKey, details: { detail: typeof item['detail'] === 'string' ? item['detail'] : '' } });
        }
        // The same version is restored, never a later one: a repair gives back what was there.
        const repaired = await replicator.replicate('system', fileId, location, { version, restore: true, ...(signal ? { signal } : {}) });
        return { action: repaired.superseded === true ? 'superseded' : 'replicated', location, key: objectKey, state: repaired.state };
      }
    }
  }

  /** A copy a crashed writer left in flight (see Replicator.reconcile). */
  async #reconcile(item: JsonObject, location: string, objectKey: string, signal?: AbortSignal): Promise<JsonObject> {
    const ref = { fileId: payloadText(item, 'file_id'), version: Number(item['version']), location };
    const replica = await this.#deps.metadata.getReplica(ref).catch((err: unknown) => {
      if (isMovingDataError(err) && err.code === 'not_found') return undefined;
      throw err;
    });
    if (replica === undefined) return { action: 'skipped', reason: 'replica no longer recorded' };
    const outcome = await this.#deps.replicator.reconcile(replica, signal);
    return { action: outcome, location, key: objectKey };
  }

  handlers(jobs: JobRunner): Record<'scan' | 'repair', PayloadHandler> {
    return {
      // A scan that fails (a location down) is not retried: the next scan is its retry, and a
      // scan job that piled up attempts would only report the outage late. It ends `failed`.
      scan: async (payload, { signal }) => {
        const location = payloadText(payload, 'location');
        try {
          return await this.scanAndQueueRepairs(location, jobs, signal, { deep: payload['deep'] === true });
        } catch (err) {
          if (signal.aborted) throw err;
          throw new MovingDataError(isMovingDataError(err) ? err.code : 'internal', `scan of ${location} failed: ${err instanceof Error ? err.message : String(err)}`, { retryable: false, cause: err });
        }
      },
      repair: async (payload, { signal }) => this.repair(payload, signal),
    };
  }

  /**
   * Queue a scan of each location (all by default). One unfinished scan per location: asking
   * again while one is queued or running returns that one (so timers in several processes
   * and impatient operators never pile scans up).
   */
  async requestScans(jobs: JobRunner, options: { locations?: readonly string[]; waitMs?: number; deep?: boolean } = {}): Promise<JobOutcome[]> {
    const locations = options.locations ?? this.#deps.replicator.locations;
    for (const location of locations) this.#deps.replicator.store(location);
    const deep = options.deep === true;
    return Promise.all(
      locations.map((location) =>
        jobs.submit('scan', { location, ...(deep ? { deep } : {}) }, { dedupeKey: `scan${deep ? '-deep' : ''}:${location}`, maxAttempts: 3, ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }) }),
      ),
    );
  }

  /**
   * Request scans of every location every `intervalMs`; returns the stop function. The first
   * comes after one interval, not at start-up: the last reports are in the metadata, and a
   * restart should not cost a full listing of every location.
   */
  schedule(jobs: JobRunner, intervalMs: number, onError: (err: unknown) => void): () => void {
    const timer = setInterval(() => {
      this.requestScans(jobs).catch(onError);
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** The consistency status: drift by kind, retries, last successful sync per location, conflicts. */
  async status(): Promise<ConsistencyStatus> {
    const { metadata, replicator } = this.#deps;
    const reports = await metadata.consistency.latest();
    const counts = await metadata.jobs.counts();
    const drift = emptyCounts();
    const locations: ConsistencyStatus['locations'] = [];
    const conflicts: ConsistencyStatus['recent_conflicts'] = [];
    for (const location of replicator.locations) {
      const report = reports.find((r) => r.location === location);
      const scan = report?.report as ScanSummary | undefined;
      if (scan) for (const kind of DRIFT_KINDS) drift[kind] += scan.drift[kind] ?? 0;
      for (const conflict of scan?.conflicts ?? []) conflicts.push({ location, ...conflict });
      locations.push({
        location,
        last_scan_at: scan?.finished_at ?? null,
        last_successful_sync: report?.lastCleanAt?.toISOString() ?? null,
        objects: scan?.objects ?? null,
        drift: scan ? { ...scan.drift } : null,
      });
    }
    const jobs: ConsistencyStatus['jobs'] = {};
    let retrying = 0;
    let dead = 0;
    for (const [kind, c] of Object.entries(counts)) {
      jobs[kind] = { ...c };
      retrying += c.retrying;
      dead += c.dead;
    }
    return { drift, drift_total: totalDrift(drift), retries: { retrying, dead }, locations, recent_conflicts: conflicts, jobs };
  }
}

export interface ConsistencyStatus {
  readonly drift: Record<DriftKind, number>;
  readonly drift_total: number;
  /** Jobs waiting for a retry after a failure, and jobs that gave up (the dead letter). */
  readonly retries: { readonly retrying: number; readonly dead: number };
  readonly locations: Array<{
    readonly location: string;
    readonly last_scan_at: string | null;
    /** The last scan that found this location fully in sync. */
    readonly last_successful_sync: string | null;
    readonly objects: number | null;
    readonly drift: Record<DriftKind, number> | null;
  }>;
  readonly recent_conflicts: Array<{ readonly location: string; readonly key: string; readonly detail: string; readonly stored_size: number | null; readonly stored_at: string | null }>;
  readonly jobs: Record<string, Record<string, number>>;
}

/**
 * The scrape-time collectors for what the metadata store already knows: jobs by kind and state,
 * the job queue's depth and oldest waiting job, and drift by location and kind from each
 * location's latest scan. Registered once by the composition root (src/app.ts); each reads the
 * store at scrape time (a few aggregate queries), bounded by the collector timeout.
 *
 * The outbox, events, consumer lag, anomalies and alerts have their setters on `Metrics`; their
 * collectors belong with the parts that own that state.
 */
import type { EventService } from '../events/service.ts';
import type { ConsistencyReports, JobQueue, MetadataStore } from '../metadata/index.ts';
import type { Metrics } from './metrics.ts';

export interface StoreCollectorSources {
  readonly jobs: Pick<JobQueue, 'counts' | 'list'>;
  readonly consistency: Pick<ConsistencyReports, 'latest'>;
}

/** Adds the `jobs` and `drift` collectors; returns a function that removes both. */
export function addStoreCollectors(metrics: Metrics, sources: StoreCollectorSources, now: () => number = Date.now): () => void {
  const removeJobs = metrics.addCollector(
    async () => {
      const [counts, oldest] = await Promise.all([sources.jobs.counts(), sources.jobs.list({ state: 'queued', limit: 1 })]);
      metrics.setJobs(counts);
      const depth = Object.values(counts).reduce((sum, byState) => sum + byState.queued, 0);
      // Jobs list in enqueue order: the first queued one has waited longest (a retry included).
      const first = oldest.items[0];
      metrics.setJobQueue({ depth, oldestAgeSeconds: first === undefined ? 0 : Math.max(0, (now() - first.createdAt.getTime()) / 1000) });
    },
    { name: 'jobs' },
  );
  const removeDrift = metrics.addCollector(
    async () => {
      const reports = await sources.consistency.latest();
      metrics.setDrift(Object.fromEntries(reports.map((r) => [r.location, driftCounts(r.report['drift'])])));
    },
    { name: 'drift' },
  );
  return () => {
    removeJobs();
    removeDrift();
  };
}

/** A scan summary's `drift` (kind -> count), read defensively: reports are stored JSON. */
function driftCounts(value: unknown): Record<string, number> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const counts: Record<string, number> = {};
  for (const [kind, n] of Object.entries(value)) if (typeof n === 'number') counts[kind] = n;
  return counts;
}

/** The event side's state at scrape time: outbox depth and age, consumer lag, alerts by kind and state. */
export function addEventCollectors(metrics: Metrics, events: EventService, metadata: Pick<MetadataStore, 'outbox' | 'alerts'>, now: () => number = Date.now): () => void {
  const removeOutbox = metrics.addCollector(
    async () => {
      const stats = await metadata.outbox.stats();
      metrics.setOutbox({ depth: stats.depth, oldestAgeSeconds: stats.oldestAt === null ? 0 : Math.max(0, (now() - stats.oldestAt.getTime()) / 1000) });
    },
    { name: 'outbox' },
  );
  const removeLag = metrics.addCollector(
    async () => {
      metrics.setConsumerLag(events.groups.stats, await events.bus.lag(events.groups.stats, [events.topics.access]));
      metrics.setConsumerLag(events.groups.telemetry, await events.bus.lag(events.groups.telemetry, [events.topics.sensor]));
    },
    { name: 'consumer_lag' },
  );
  const removeAlerts = metrics.addCollector(
    async () => {
      const byKind: Record<string, Record<string, number>> = {};
      for (const c of await metadata.alerts.counts()) (byKind[c.kind] ??= {})[c.state] = c.count;
      metrics.setAlerts(byKind);
    },
    { name: 'alerts' },
  );
  return () => {
    removeOutbox();
    removeLag();
    removeAlerts();
  };
}

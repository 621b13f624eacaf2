/**
 * The composition root: the one place that turns configuration into running parts and wires
 * them together. Everything below receives what it needs; nothing reaches for globals.
 */
import type { FastifyInstance } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import { AccessPolicy } from './access/policy.ts';
import { ensureDemoAdmin } from './access/principals.ts';
import { buildApi } from './api/server.ts';
import type { AuditTrail } from './audit/audit-trail.ts';
import type { Config } from './config/config.ts';
import type { EncryptedStore } from './crypto/encrypted-store.ts';
import type { KeyProvider } from './crypto/keys/port.ts';
import { openEngine } from './engine.ts';
import { demoToken, demoTokenPath } from './demo/admin-token.ts';
import { EventService } from './events/service.ts';
import type { StoredFile } from './events/synthetic.ts';
import { FileService } from './files/file-service.ts';
import { addEventCollectors, addStoreCollectors } from './observability/collectors.ts';
import { Metrics } from './observability/metrics.ts';
import { metricsPortFromEnv, startMetricsListener, type MetricsListener } from './observability/metrics-plugin.ts';
import type { JobRunner } from './jobs/runner.ts';
import type { MetadataStore } from './metadata/index.ts';
import type { ConsistencyManager } from './replication/consistency.ts';
import type { TieringService } from './tiering/service.ts';
import type { Replicator } from './replication/replicator.ts';

export interface AppContext {
  readonly config: Config;
  readonly version: string;
  readonly startedAt: Date;
  readonly metadata: MetadataStore;
  readonly keys: KeyProvider;
  /** Storage locations by name (aws, azure, gcp), each behind its encryption. */
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  readonly policy: AccessPolicy;
  readonly audit: AuditTrail;
  readonly replicator: Replicator;
  readonly consistency: ConsistencyManager;
  readonly files: FileService;
  /** Where replication, moves, repairs and scans are submitted. */
  readonly jobs: JobRunner;
  /** The event bus, outbox relay, consumers, alerts and telemetry. */
  readonly events: EventService;
  /** Prometheus metrics: served at GET /metrics, fed by the parts that do the work. */
  readonly metrics: Metrics;
  /** Predictive tiering: recommendations, runs, decisions, the model. */
  readonly tiering: TieringService;
}

export interface App {
  readonly context: AppContext;
  readonly api: FastifyInstance;
  /** Start listening; resolves with the address. */
  listen(): Promise<string>;
  /** Stop accepting requests, let in-flight ones finish, then release every resource. */
  close(): Promise<void>;
  /** Demo mode without MOVINGDATA_ADMIN_TOKEN: the admin token it generated (or reused) and where it is kept. */
  readonly demoAdmin?: { readonly token: string; readonly path: string };
}

/** The committed files at each location, for the synthetic access stream (the first 1,000). */
async function storedFiles(metadata: MetadataStore): Promise<StoredFile[]> {
  const page = await metadata.listInventory({ limit: 1000 });
  return page.items.flatMap((entry) =>
    entry.replicas.map((replica) => ({ location: replica.location, key: entry.file.key, size: entry.versions.find((v) => v.version === replica.version)?.size ?? 0 })),
  );
}

export async function createApp(config: Config): Promise<App> {
  const metricsPort = metricsPortFromEnv();
  const announcements: string[] = [];
  const engine = await openEngine(config, { announce: (message) => announcements.push(message) });
  const { metadata, keys, stores, audit, replicator, consistency, jobs } = engine;
  const policy = new AccessPolicy(Object.fromEntries(config.locations.map((l) => [l.name, l.allowedRoles])));
  const files = new FileService({ metadata, audit, replicator, jobs });
  const metrics = new Metrics({
    locations: config.locations.map((l) => l.name),
    onCollectorError: (collector, reason, err) => api?.log.warn({ collector, reason, err: err instanceof Error ? err.message : String(err) }, 'a metrics collector failed; the scrape went on without it'),
  });
  const eventLog = { warn: (obj: object, msg: string) => api?.log.warn(obj, msg) };
  const events = new EventService({ config, metadata, log: eventLog, consumers: config.events.consumers, files: () => storedFiles(metadata), metrics });
  addStoreCollectors(metrics, metadata);
  addEventCollectors(metrics, events, metadata);
  const context: AppContext = { config, version: packageJson.version, startedAt: new Date(), metadata, keys, stores, policy, audit, replicator, consistency, files, jobs, events, metrics, tiering: engine.tiering };
  let api: FastifyInstance | undefined;
  try {
    api = await buildApi(context);
  } catch (err) {
    await engine.close();
    throw err;
  }
  // The embedded store (PGlite) admits one process, so by default the server runs its own
  // worker (built after the API, to log through Fastify's logger); against PostgreSQL,
  // `movingdata worker` processes can share (or take) the work.
  const worker = config.engine.workerConcurrency > 0 ? engine.worker({ log: api.log.child({ component: 'worker' }), concurrency: config.engine.workerConcurrency }) : undefined;

  for (const message of announcements) api.log.warn(message);
  let demoAdmin: App['demoAdmin'];
  if (config.demo && config.adminToken !== undefined) {
    const { action } = await ensureDemoAdmin(metadata, config.adminToken);
    api.log.warn(`DEMO MODE: admin token from MOVINGDATA_ADMIN_TOKEN (${action}); never use demo mode in production`);
  } else if (config.demo) {
    const { token, created } = await demoToken(config.dataDir);
    const { action } = await ensureDemoAdmin(metadata, token);
    demoAdmin = { token, path: demoTokenPath(config.dataDir) };
    api.log.warn(`DEMO MODE: admin token ${created ? 'generated' : 'reused'} in ${demoAdmin.path} (${action}); demo keys are kept next to the data they protect; never use demo mode in production`);
  }

  // A location that is down at start-up must not stop the service: /health reports it, and
  // the container is created when first written to.
  await Promise.all(
    [...stores.values()].map(async (store) => {
      try {
        await store.ensureContainer();
      } catch (err) {
        api.log.warn({ location: store.location, err: err instanceof Error ? err.message : String(err) }, 'storage location not ready at start-up');
      }
    }),
  );

  // What a crashed predecessor left: copies it was writing (settled: a write that never
  // committed is abandoned and its object removed), and its temporary upload files.
  try {
    const staleMs = config.engine.staleWriteS * 1000;
    const olderThanMs = metadata.features.multiProcess ? staleMs : 0;
    const settled = await replicator.reconcileStale(olderThanMs);
    // A bucket may be shared with other writers whatever the metadata: only our own directory
    // is cleaned of everything.
    const cleaned = await Promise.all([...stores.values()].map(async (store) => store.inner.cleanupIncomplete?.(store.provider === 'local' ? olderThanMs : staleMs) ?? 0));
    const leftovers = cleaned.reduce((a, b) => a + b, 0);
    if (settled + leftovers > 0) api.log.warn({ settled, leftovers }, 'settled writes a stopped server left in flight');
  } catch (err) {
    api.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not settle the writes left in flight; the drift scan reports them');
  }

  // Jobs and scans start with the app (also for in-process use through api.inject).
  worker?.start();
  await events.start();
  const stopScans =
    config.engine.scanIntervalS > 0
      ? consistency.schedule(jobs, config.engine.scanIntervalS * 1000, (err) => api.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not queue the periodic drift scans'))
      : undefined;
  const stopTiering =
    config.tiering.intervalS > 0
      ? engine.tiering.schedule(jobs, config.tiering.intervalS * 1000, (err) => api.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not queue the periodic tiering run'))
      : undefined;
  let closed = false;
  let metricsListener: MetricsListener | undefined;
  return {
    context,
    api,
    ...(demoAdmin === undefined ? {} : { demoAdmin }),
    async listen() {
      const address = await api.listen({ host: config.server.host, port: config.server.port });
      if (metricsPort !== undefined && metricsListener === undefined) {
        metricsListener = await startMetricsListener(metrics, metricsPort);
        api.log.info(`metrics, unauthenticated, at http://127.0.0.1:${metricsListener.port}/metrics`);
      }
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      stopScans?.();
      stopTiering?.();
      await metricsListener?.close();
      await api.close();
      await events.stop();
      if (worker !== undefined) {
        const report = await worker.stop({ graceMs: config.server.shutdownTimeoutMs });
        if (report.abandoned > 0) api.log.warn({ abandoned: report.abandoned }, 'jobs abandoned on shutdown; their leases return them to the queue');
      }
      await engine.close();
    },
  };
}

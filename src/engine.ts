/**
 * The engine: configuration turned into the parts that move data — keys, the metadata store,
 * one encrypted store per location, the audit trail, the replicator, the consistency manager,
 * the job queue and the handlers its workers run. The API server (app.ts) and every
 * `movingdata worker` process build the same engine, so a job runs the same wherever it is
 * claimed.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditTrail } from './audit/audit-trail.ts';
import type { Config } from './config/config.ts';
import { EncryptedStore } from './crypto/encrypted-store.ts';
import { LocalKeyring } from './crypto/keys/local-keyring.ts';
import type { KeyProvider } from './crypto/keys/port.ts';
import { QueueRunner, optionalPayloadText, payloadText, type PayloadHandler } from './jobs/runner.ts';
import { createWorker, workerSettings, type JobHandlers, type JobLogger, type JobWorker } from './jobs/worker.ts';
import { openMetadataStore, type MetadataStore } from './metadata/index.ts';
import { ConsistencyManager } from './replication/consistency.ts';
import { replicationHandlers } from './replication/handlers.ts';
import { Replicator } from './replication/replicator.ts';
import { rewrapLocation } from './replication/rewrap.ts';
import { openStore } from './storage/factory.ts';
import { loadPriceTables } from './tiering/prices.ts';
import { TieringService } from './tiering/service.ts';

export interface Engine {
  readonly config: Config;
  readonly metadata: MetadataStore;
  readonly keys: KeyProvider;
  /** Storage locations by name (aws, azure, gcp), each behind its encryption. */
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  readonly audit: AuditTrail;
  readonly replicator: Replicator;
  readonly consistency: ConsistencyManager;
  /** Where replication, moves, repairs and scans are submitted. */
  readonly jobs: QueueRunner;
  /** Predictive tiering: recommendations, the tiering run, its decisions and jobs. */
  readonly tiering: TieringService;
  /** What a worker runs, by job kind: replicate, move, verify, repair, scan, rewrap, tier, tiering. */
  readonly handlers: JobHandlers;
  /** A worker on this engine's queue and handlers, with the configured retry policy (not started). */
  worker(options: { readonly log: JobLogger; readonly concurrency?: number; readonly id?: string; readonly pollMs?: number; readonly leaseMs?: number }): JobWorker;
  /** Release the stores, and the metadata store if the engine opened it. */
  close(): Promise<void>;
}

export interface EngineOptions {
  /** Use this metadata store (its owner closes it) instead of opening the configured one. */
  readonly metadata?: MetadataStore;
  /** Start-up messages worth a warning (demo keys generated, ...). */
  readonly announce?: (message: string) => void;
}

/** A payload handler as a queue job handler. */
function onPayload(handler: PayloadHandler): JobHandlers[string] {
  return (job, ctx) => handler(job.payload, ctx);
}

export async function openEngine(config: Config, options: EngineOptions = {}): Promise<Engine> {
  await mkdir(config.dataDir, { recursive: true });
  // Keys first: a missing key outside demo mode stops start-up before anything else opens.
  const keys = await LocalKeyring.open({
    dir: join(config.dataDir, 'keys'),
    demo: config.demo,
    sources: config.locations.map((l) => l.key),
    announce: options.announce ?? (() => undefined),
  });
  const ownsMetadata = options.metadata === undefined;
  const metadata = options.metadata ?? (await openMetadataStore(config.metadata));
  const stores = new Map<string, EncryptedStore>();
  try {
    for (const location of config.locations) {
      const inner = await openStore(location.store);
      stores.set(location.name, new EncryptedStore({ inner, keys: () => keys.keysFor(location.name) }));
    }
  } catch (err) {
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
    if (ownsMetadata) await metadata.close();
    throw err;
  }

  const audit = new AuditTrail(metadata.audit, { events: { topic: config.kafka.topicAccess } });
  const replicator = new Replicator({ metadata, stores, audit });
  const consistency = new ConsistencyManager(
    { metadata, replicator, audit },
    { deleteOrphans: config.engine.deleteOrphans, repairAttempts: config.engine.maxAttempts, staleWriteMs: config.engine.staleWriteS * 1000 },
  );
  const jobs = new QueueRunner(metadata.jobs, { maxAttempts: config.engine.maxAttempts });
  const replication = replicationHandlers(replicator);
  let tiering: TieringService;
  try {
    const prices = await loadPriceTables(config.tiering.pricesFile === undefined ? {} : { overrideFile: config.tiering.pricesFile });
    tiering = new TieringService({
      metadata,
      stores,
      allowedRoles: Object.fromEntries(config.locations.map((l) => [l.name, l.allowedRoles])),
      prices,
      replicator,
      moveHandler: replication.move,
      settings: {
        intervalS: config.tiering.intervalS,
        dryRun: config.tiering.dryRun,
        rules: { horizonDays: config.tiering.horizonDays, hysteresisDays: config.tiering.hysteresisDays, minConfidence: config.tiering.minConfidence, minIdleDays: config.tiering.minIdleDays, minIdleDaysUnread: config.tiering.minIdleDaysUnread, latencySpikeMs: config.alerts.latencyMs },
      },
    });
  } catch (err) {
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
    if (ownsMetadata) await metadata.close();
    throw err;
  }
  const payloadHandlers: Record<string, PayloadHandler> = {
    ...replication,
    ...tiering.handlers(() => jobs),
    ...consistency.handlers(jobs),
    rewrap: (payload, context) => rewrapLocation({ keys, stores, metadata, audit }, optionalPayloadText(payload, 'principal') ?? 'system', payloadText(payload, 'location'), context),
  };
  const handlers: JobHandlers = Object.fromEntries(Object.entries(payloadHandlers).map(([kind, h]) => [kind, onPayload(h)]));

  let closed = false;
  return {
    config,
    metadata,
    keys,
    stores,
    audit,
    replicator,
    consistency,
    jobs,
    tiering,
    handlers,
    worker(workerOptions) {
      return createWorker({
        metadata,
        handlers,
        log: workerOptions.log,
        ...workerSettings(config.engine),
        ...(workerOptions.leaseMs === undefined ? {} : { leaseMs: workerOptions.leaseMs }),
        ...(workerOptions.pollMs === undefined ? {} : { pollMs: workerOptions.pollMs }),
        ...(workerOptions.concurrency === undefined ? {} : { concurrency: workerOptions.concurrency }),
        ...(workerOptions.id === undefined ? {} : { id: workerOptions.id }),
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...stores.values()].map((s) => s.close()));
      if (ownsMetadata) await metadata.close();
    },
  };
}

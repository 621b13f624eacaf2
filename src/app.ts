/**
 * The composition root: the one place that turns configuration into running parts and wires
 * them together. Everything below receives what it needs; nothing reaches for globals.
 */
import type { FastifyInstance } from 'fastify';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import packageJson from '../package.json' with { type: 'json' };
import { AccessPolicy } from './access/policy.ts';
import { ensureDemoAdmin } from './access/principals.ts';
import { buildApi } from './api/server.ts';
import { AuditTrail } from './audit/audit-trail.ts';
import type { Config } from './config/config.ts';
import { EncryptedStore } from './crypto/encrypted-store.ts';
import { LocalKeyring } from './crypto/keys/local-keyring.ts';
import type { KeyProvider } from './crypto/keys/port.ts';
import { FileService } from './files/file-service.ts';
import { replicationHandlers } from './replication/handlers.ts';
import { Replicator } from './replication/replicator.ts';
import { InlineRunner, type JobRunner } from './replication/runner.ts';
import { openMetadataStore, type MetadataStore } from './metadata/index.ts';
import { openStore } from './storage/factory.ts';

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
  readonly files: FileService;
  /** Where replication, moves and repairs are submitted. */
  readonly jobs: JobRunner;
}

export interface App {
  readonly context: AppContext;
  readonly api: FastifyInstance;
  /** Start listening; resolves with the address. */
  listen(): Promise<string>;
  /** Stop accepting requests, let in-flight ones finish, then release every resource. */
  close(): Promise<void>;
}

export async function createApp(config: Config): Promise<App> {
  await mkdir(config.dataDir, { recursive: true });
  // Keys first: a missing key outside demo mode stops start-up before anything else opens.
  const announcements: string[] = [];
  const keys = await LocalKeyring.open({
    dir: join(config.dataDir, 'keys'),
    demo: config.demo,
    sources: config.locations.map((l) => l.key),
    announce: (message) => announcements.push(message),
  });
  const metadata = await openMetadataStore(config.metadata);
  const stores = new Map<string, EncryptedStore>();
  try {
    for (const location of config.locations) {
      const inner = await openStore(location.store);
      stores.set(location.name, new EncryptedStore({ inner, keys: () => keys.keysFor(location.name) }));
    }
  } catch (err) {
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
    await metadata.close();
    throw err;
  }

  const policy = new AccessPolicy(Object.fromEntries(config.locations.map((l) => [l.name, l.allowedRoles])));
  const audit = new AuditTrail(metadata.audit);
  const replicator = new Replicator({ metadata, stores, audit });
  const files = new FileService({ metadata, stores, audit, replicator });
  const jobs: JobRunner = new InlineRunner(replicationHandlers(replicator));
  const context: AppContext = { config, version: packageJson.version, startedAt: new Date(), metadata, keys, stores, policy, audit, replicator, files, jobs };
  const api = await buildApi(context);

  for (const message of announcements) api.log.warn(message);
  if (config.demo && config.adminToken !== undefined) {
    const { action } = await ensureDemoAdmin(metadata, config.adminToken);
    api.log.warn(`DEMO MODE: admin token from MOVINGDATA_ADMIN_TOKEN (${action}); never use demo mode in production`);
  } else if (config.demo) {
    api.log.warn('DEMO MODE: demo keys are kept next to the data they protect; never use demo mode in production');
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

  let closed = false;
  return {
    context,
    api,
    async listen() {
      return api.listen({ host: config.server.host, port: config.server.port });
    },
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
      await Promise.allSettled([...stores.values()].map((s) => s.close()));
      await metadata.close();
    },
  };
}

/**
 * The composition root: the one place that turns configuration into running parts and wires
 * them together. Everything below receives what it needs; nothing reaches for globals.
 */
import type { FastifyInstance } from 'fastify';
import { mkdir } from 'node:fs/promises';
import packageJson from '../package.json' with { type: 'json' };
import { buildApi } from './api/server.ts';
import type { Config } from './config/config.ts';
import { openMetadataStore, type MetadataStore } from './metadata/index.ts';
import { openStore } from './storage/factory.ts';
import type { ObjectStore } from './storage/port.ts';

export interface AppContext {
  readonly config: Config;
  readonly version: string;
  readonly startedAt: Date;
  readonly metadata: MetadataStore;
  /** Storage locations by name (aws, azure, gcp). */
  readonly stores: ReadonlyMap<string, ObjectStore>;
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
  const metadata = await openMetadataStore(config.metadata);
  const stores = new Map<string, ObjectStore>();
  try {
    for (const location of config.locations) stores.set(location.location, await openStore(location));
  } catch (err) {
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
    await metadata.close();
    throw err;
  }

  const context: AppContext = { config, version: packageJson.version, startedAt: new Date(), metadata, stores };
  const api = await buildApi(context);

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

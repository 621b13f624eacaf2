/**
 * The event bus conformance suite on the embedded bus: on PGlite (one store shared by the
 * "processes", as in the server) and on the lab's PostgreSQL (each client its own store, as
 * separate processes would have).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import type { MetadataStore } from '../../metadata/index.ts';
import { openPgliteStore } from '../../metadata/pglite/pglite-store.ts';
import { openPostgresStore } from '../../metadata/postgres/postgres-store.ts';
import { runEventBusConformance } from '../conformance/suite.ts';
import { EmbeddedBus } from './embedded-bus.ts';

const stores: MetadataStore[] = [];
const pglite = openPgliteStore({ inMemory: true }).then((store) => {
  stores.push(store);
  return store;
});
const fast = { pollMs: 50, heartbeatMs: 200, sessionMs: 1500 };
const topic = () => `t-${randomBytes(4).toString('hex')}`;

runEventBusConformance({ name: 'embedded (PGlite)', open: async () => new EmbeddedBus((await pglite).eventLog, fast), uniqueTopic: topic, settleMs: 15_000 });

const url = process.env.DATABASE_URL ?? (inject as (key: string) => { DATABASE_URL: string } | undefined)('lab')?.DATABASE_URL;
const schema = `bus_test_${randomBytes(6).toString('hex')}`;
if (url !== undefined) {
  runEventBusConformance({
    name: 'embedded (PostgreSQL)',
    open: async () => {
      const store = await openPostgresStore({ url, schema, poolSize: 4 });
      stores.push(store);
      return new EmbeddedBus(store.eventLog, fast);
    },
    uniqueTopic: topic,
    settleMs: 15_000,
  });
}

afterAll(async () => {
  for (const store of stores) await store.close();
  if (url === undefined) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`).finally(() => client.end());
});

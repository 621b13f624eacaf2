import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { runMetadataConformance } from '../conformance/suite.ts';
import { openPostgresStore } from './postgres-store.ts';

// The lab's PostgreSQL (test/global-setup.ts provides it); DATABASE_URL overrides it. The cast
// keeps this file independent of how the lab declares its provided context.
const url = process.env.DATABASE_URL ?? (inject as (key: string) => { DATABASE_URL: string } | undefined)('lab')?.DATABASE_URL;
if (url === undefined) throw new Error('no PostgreSQL: set DATABASE_URL or run with the lab');

runMetadataConformance({
  name: 'postgres',
  async fresh() {
    // A schema of its own per store, so parallel runs on one server never meet.
    const schema = `md_test_${randomBytes(6).toString('hex')}`;
    return {
      open: () => openPostgresStore({ url, schema, poolSize: 4 }),
      async destroy() {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`drop schema if exists "${schema}" cascade`);
        } finally {
          await client.end();
        }
      },
    };
  },
});

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { runMetadataConformance } from '../conformance/suite.ts';
import { sqlAuditTamperer } from '../sql/testing.ts';
import { openPostgresStore } from './postgres-store.ts';
import { prepareRepeatedStatements } from './prepared.ts';

// The lab's PostgreSQL (test/global-setup.ts provides it); DATABASE_URL overrides it. The cast
// keeps this file independent of how the lab declares its provided context.
const url = process.env.DATABASE_URL ?? (inject as (key: string) => { DATABASE_URL: string } | undefined)('lab')?.DATABASE_URL;
if (url === undefined) throw new Error('no PostgreSQL: set DATABASE_URL or run with the lab');

runMetadataConformance({
  name: 'postgres',
  auditTamperer: sqlAuditTamperer,
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

describe('postgres audit log', () => {
  it('keeps one chain when three processes append at once, and refuses UPDATE, DELETE and TRUNCATE through SQL', async () => {
    const schema = `md_test_${randomBytes(6).toString('hex')}`;
    const storeModule = new URL('./postgres-store.ts', import.meta.url).href;
    const store = await openPostgresStore({ url, schema, poolSize: 2 });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // Each child opens its own pool and appends 20 entries as fast as it can.
      const children = Array.from({ length: 3 }, (_, n) =>
        spawn(process.execPath, [
          '--input-type=module',
          '-e',
          `const { openPostgresStore } = await import(${JSON.stringify(storeModule)});
           const store = await openPostgresStore({ url: ${JSON.stringify(url)}, schema: ${JSON.stringify(schema)}, poolSize: 4 });
           await Promise.all(Array.from({ length: 20 }, (_, i) => store.audit.append({ principal: 'process-${n}', action: 'write', outcome: 'allowed', details: { i } })));
           await store.close();`,
        ], { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
      const exits = await Promise.all(
        children.map(async (child) => {
          let stderr = '';
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          const [code] = (await once(child, 'exit')) as [number | null];
          return { code, stderr };
        }),
      );
      expect(exits).toEqual([0, 1, 2].map(() => ({ code: 0, stderr: '' })));
      const verification = await store.audit.verify({ pageSize: 16 });
      expect(verification).toMatchObject({ ok: true, entries: 60, head: { seq: 60 } });
      const byProcess = new Map<string, number>();
      for await (const entry of store.audit.entries()) byProcess.set(entry.principal, (byProcess.get(entry.principal) ?? 0) + 1);
      expect(Object.fromEntries(byProcess)).toEqual({ 'process-0': 20, 'process-1': 20, 'process-2': 20 });

      for (const statement of ['update audit_log set principal = $1', 'delete from audit_log where seq = 1 and $1::text is not null', 'truncate audit_log']) {
        const params = statement.includes('$1') ? ['mallory'] : [];
        await expect(client.query(statement.replace('audit_log', `"${schema}".audit_log`), params)).rejects.toThrow(/append-only/);
      }
      expect((await store.audit.verify()).ok).toBe(true);
    } finally {
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
      await store.close();
    }
  });
});

describe('postgres prepared statements', () => {
  it('prepares a parameterised statement once it repeats, never a one-off or parameterless one, and recovers when its table changes shape', async () => {
    const table = `md_prep_${randomBytes(6).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    prepareRepeatedStatements(pool);
    const client = await pool.connect();
    const prepared = async () => (await client.query<{ statement: string }>('select statement from pg_prepared_statements')).rows.map((r) => r.statement);
    try {
      await client.query(`create table ${table} (a int)`);
      await client.query(`insert into ${table} values (1), (2)`);
      const select = `select * from ${table} where a = $1`;
      expect((await client.query(select, [1])).rows).toEqual([{ a: 1 }]);
      expect(await prepared()).toEqual([]);
      expect((await client.query(select, [2])).rows).toEqual([{ a: 2 }]);
      expect(await prepared()).toEqual([select]);
      expect((await client.query(select, [1])).rows).toEqual([{ a: 1 }]);
      await client.query(`select count(*) from ${table}`);
      await client.query(`select count(*) from ${table}`);
      expect(await prepared()).toEqual([select]);

      // Another process migrates the table: the prepared plan is refused once, then the
      // statement runs unnamed and sees the new column.
      await client.query(`alter table ${table} add column b int default 7`);
      await expect(client.query(select, [1])).rejects.toMatchObject({ code: '0A000' });
      expect((await client.query(select, [1])).rows).toEqual([{ a: 1, b: 7 }]);
    } finally {
      await client.query(`drop table if exists ${table}`);
      client.release();
      await pool.end();
    }
  });
});

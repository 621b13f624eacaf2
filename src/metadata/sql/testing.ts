/**
 * Test-only: tamper with a SQL store's audit log behind the port's back, the way someone with
 * the table owner's rights could (the append-only trigger disabled for the duration), so tests
 * can prove that `verify` notices. Production code never imports this file.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { auditEntryHash } from '../audit-chain.ts';
import type { AuditTamperer } from '../conformance/suite.ts';
import type { MetadataStore } from '../port.ts';
import { jsonText, toAuditEntry } from './rows.ts';
import type { Database } from './schema.ts';
import { rawDatabaseOf } from './store.ts';

function databaseOf(store: MetadataStore): Kysely<Database> {
  const db = rawDatabaseOf(store);
  if (db === undefined) throw new Error(`not a SQL metadata store: ${store.kind}`);
  return db;
}

async function withoutGuard(store: MetadataStore, work: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
  await databaseOf(store)
    .transaction()
    .execute(async (trx) => {
      await sql`alter table audit_log disable trigger user`.execute(trx);
      await work(trx);
      await sql`alter table audit_log enable trigger user`.execute(trx);
    });
}

export const sqlAuditTamperer: AuditTamperer = {
  async edit(store, seq, column, value) {
    await withoutGuard(store, async (trx) => {
      await trx
        .updateTable('audit_log')
        .set({ [column]: column === 'details' ? jsonText(JSON.parse(value)) : value })
        .where('seq', '=', seq)
        .execute();
    });
  },

  async rewrite(store, seq, principal) {
    await withoutGuard(store, async (trx) => {
      const row = await trx.selectFrom('audit_log').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
      const forged = { ...toAuditEntry(row), principal };
      await trx.updateTable('audit_log').set({ principal, hash: auditEntryHash(forged.prevHash, forged) }).where('seq', '=', seq).execute();
    });
  },

  async remove(store, seq) {
    await withoutGuard(store, async (trx) => {
      await trx.deleteFrom('audit_log').where('seq', '=', seq).execute();
    });
  },

  async swap(store, a, b) {
    // Through a free number: the primary key is checked row by row.
    const parked = 2 ** 40 + a;
    await withoutGuard(store, async (trx) => {
      await trx.updateTable('audit_log').set({ seq: parked }).where('seq', '=', a).execute();
      await trx.updateTable('audit_log').set({ seq: a }).where('seq', '=', b).execute();
      await trx.updateTable('audit_log').set({ seq: b }).where('seq', '=', parked).execute();
    });
  },

  async truncateTail(store, count) {
    await withoutGuard(store, async (trx) => {
      await sql`delete from audit_log where seq > (select max(seq) - ${count} from audit_log)`.execute(trx);
    });
  },
};

/** Test-only: make a live file's versions look `days` older (the tiering run's age and days in tier). */
export async function backdateFile(store: MetadataStore, key: string, days: number): Promise<void> {
  const db = databaseOf(store);
  await sql`update file_versions set created_at = created_at - make_interval(days => ${days})
    where file_id = (select id from files where key = ${key} and deleted_at is null)`.execute(db);
  await sql`update files set created_at = created_at - make_interval(days => ${days}) where key = ${key} and deleted_at is null`.execute(db);
}

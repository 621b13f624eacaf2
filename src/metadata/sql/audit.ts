/**
 * The audit log on Kysely, shared by the PGlite and PostgreSQL adapters.
 *
 * One linear chain, whoever appends: every append is a transaction that first takes a
 * transaction-scoped advisory lock on the log, then reads the head, then inserts seq = head + 1
 * chained to the head's hash. Concurrent callers, pooled connections and other processes queue
 * on that lock, so no two entries are ever chained to the same predecessor. The lock is
 * released only after the commit is visible (PostgreSQL ends the transaction before it releases
 * locks), so the next holder's head read always sees it, and a reader never sees seq n+1
 * without seq n.
 *
 * The lock key is (a constant naming MovingData's audit lock, the log table's OID): the OID
 * differs per schema, so stores that share a database in different schemas do not queue on
 * each other, and the two-key form cannot collide with single-key advisory locks (Kysely's
 * migration lock, future job queues).
 *
 * Time comes from the database clock, read after the lock (`clock_timestamp()`, not `now()`,
 * which is the start of a transaction that may have waited), so `at` follows `seq`.
 *
 * Appends are group-committed: while one append transaction is in flight, the appends that
 * arrive queue up, and the next transaction writes all of them (chained in arrival order, one
 * multi-row insert, one commit). Each caller still resolves only once its entry is committed;
 * under load a request pays for a share of one transaction instead of a whole one (measured by
 * `npm run bench -- small`).
 */
import { sql, type Kysely } from 'kysely';
import { GENESIS_HASH, auditEntryHash, verifyAuditChain } from '../audit-chain.ts';
import type { AuditEntry, AuditHead, AuditListQuery, AuditLog, AuditVerification, JsonObject, NewAuditEntry, OutboxRecord } from '../port.ts';
import { checkOutboxRecords, insertOutbox } from './events.ts';
import {
  checkAfterSeq,
  checkAuditAction,
  checkAuditDetails,
  checkAuditOutcome,
  checkKey,
  checkLabel,
  checkLimit,
  checkNullableKey,
  checkNullableLabel,
  checkNullableSha256,
} from '../validation.ts';
import { guarded } from './errors.ts';
import { jsonText, toAuditEntry, toDate, toSafeInteger } from './rows.ts';
import type { Database } from './schema.ts';

/** 'MDAU' as a 31-bit integer: the first half of the advisory lock key. */
const AUDIT_LOCK_NAMESPACE = 0x4d444155;
const PAGE = { fallback: 1000, max: 10_000 };
/** Most entries one group commit writes. */
const MAX_BATCH = 256;

type AuditFields = Omit<Parameters<typeof auditEntryHash>[1], 'seq' | 'at'>;

interface QueuedAppend {
  readonly fields: AuditFields;
  readonly events: readonly OutboxRecord[];
  readonly resolve: (entry: AuditEntry) => void;
  readonly reject: (err: unknown) => void;
}

export class SqlAuditLog implements AuditLog {
  readonly #db: Kysely<Database>;
  readonly #guard: () => void;

  constructor(db: Kysely<Database>, guard: () => void) {
    this.#db = db;
    this.#guard = guard;
  }

  #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return guarded(this.#guard, operation, work);
  }

  async append(input: NewAuditEntry): Promise<AuditEntry> {
    const principal = checkLabel(input.principal, 'principal');
    const action = checkAuditAction(input.action);
    const outcome = checkAuditOutcome(input.outcome);
    const location = checkNullableLabel(input.location, 'location');
    const objectKey = checkNullableKey(input.objectKey, 'objectKey');
    const keyId = checkNullableLabel(input.keyId, 'keyId');
    const sha256 = checkNullableSha256(input.sha256);
    // Hash what the database will give back (jsonb keeps no key order, no duplicate keys).
    const details = JSON.parse(JSON.stringify(checkAuditDetails(input.details))) as JsonObject;
    if (input.events !== undefined) checkOutboxRecords(input.events);
    return new Promise<AuditEntry>((resolve, reject) => {
      this.#queue.push({ fields: { principal, action, location, objectKey, keyId, sha256, outcome, details }, events: input.events ?? [], resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  readonly #queue: QueuedAppend[] = [];
  #flushing = false;

  /** Writes what is queued, a batch per transaction, until the queue is empty. */
  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        try {
          const entries = await this.#run('appendAudit', () => this.#appendBatch(batch));
          batch.forEach((b, i) => b.resolve(entries[i]!));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #appendBatch(queued: readonly QueuedAppend[]): Promise<AuditEntry[]> {
    const batch = queued.map((q) => q.fields);
    return this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_NAMESPACE)}, ('audit_log'::regclass)::oid::integer)`.execute(trx);
      // A new statement after the lock: under READ COMMITTED it sees the previous holder's commit.
      const state = await sql<{ seq: unknown; hash: string | null; at: unknown }>`select
          (select seq from audit_log order by seq desc limit 1) as seq,
          (select hash from audit_log order by seq desc limit 1) as hash,
          date_trunc('milliseconds', clock_timestamp()) as at`.execute(trx);
      const head = state.rows[0];
      let seq = head?.seq === null || head?.seq === undefined ? 0 : toSafeInteger(head.seq, 'audit seq');
      let prevHash = head?.hash ?? GENESIS_HASH;
      const at = toDate(head?.at, 'database clock');
      const values = batch.map((fields) => {
        seq += 1;
        const hash = auditEntryHash(prevHash, { seq, at, ...fields });
        const row = {
          seq,
          at,
          principal: fields.principal,
          action: fields.action,
          location: fields.location,
          object_key: fields.objectKey,
          key_id: fields.keyId,
          sha256: fields.sha256,
          outcome: fields.outcome,
          details: jsonText(fields.details),
          prev_hash: prevHash,
          hash,
        };
        prevHash = hash;
        return row;
      });
      const rows = await trx.insertInto('audit_log').values(values).returningAll().execute();
      // The events reporting these entries commit with them (the transactional outbox).
      await insertOutbox(trx, queued.flatMap((q) => q.events));
      return rows.map(toAuditEntry).sort((a, b) => a.seq - b.seq);
    });
  }

  async list(query: AuditListQuery = {}): Promise<AuditEntry[]> {
    const afterSeq = checkAfterSeq(query.afterSeq);
    const limit = checkLimit(query.limit, PAGE.fallback, PAGE.max);
    return this.#run('listAudit', async () => {
      const rows = await this.#db.selectFrom('audit_log').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
      return rows.map(toAuditEntry);
    });
  }

  async forObject(query: { readonly key: string; readonly locations: readonly string[]; readonly limit?: number }): Promise<AuditEntry[]> {
    const key = checkKey(query.key, 'key');
    const locations = query.locations.map((l) => checkLabel(l, 'location'));
    const limit = checkLimit(query.limit, 50, 1000);
    return this.#run('auditForObject', async () => {
      if (locations.length === 0) return [];
      const rows = await this.#db.selectFrom('audit_log').selectAll().where('object_key', '=', key).where('location', 'in', locations).orderBy('seq', 'desc').limit(limit).execute();
      return rows.map(toAuditEntry);
    });
  }

  async head(): Promise<AuditHead | null> {
    return this.#run('auditHead', async () => {
      const row = await this.#db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
      return row === undefined ? null : { seq: toSafeInteger(row.seq, 'audit seq'), hash: row.hash };
    });
  }

  entries(options: { readonly afterSeq?: number; readonly pageSize?: number } = {}): AsyncGenerator<AuditEntry> {
    return this.#pages(checkAfterSeq(options.afterSeq), checkLimit(options.pageSize, PAGE.fallback, PAGE.max), undefined);
  }

  /** Keyset pages after `afterSeq`, up to `throughSeq` if given; one page in memory at a time. */
  async *#pages(afterSeq: number, limit: number, throughSeq: number | undefined): AsyncGenerator<AuditEntry> {
    let cursor = afterSeq;
    for (;;) {
      const page = await this.#run('listAudit', async () => {
        let q = this.#db.selectFrom('audit_log').selectAll().where('seq', '>', cursor);
        if (throughSeq !== undefined) q = q.where('seq', '<=', throughSeq);
        return (await q.orderBy('seq').limit(limit).execute()).map(toAuditEntry);
      });
      yield* page;
      const last = page.at(-1);
      if (last === undefined || page.length < limit) return;
      cursor = last.seq;
    }
  }

  async verify(options: { readonly pageSize?: number } = {}): Promise<AuditVerification> {
    const pageSize = checkLimit(options.pageSize, PAGE.fallback, PAGE.max);
    // The log as it stood when verification began: entries appended meanwhile wait for the
    // next run, so a busy log cannot keep one verification going forever.
    const head = await this.head();
    if (head === null) return { ok: true, entries: 0, head: null };
    return verifyAuditChain(this.#pages(0, pageSize, head.seq), (hash) =>
      this.#run('locateAudit', async () => {
        // Asked once, at the first break; a sequential scan then is acceptable.
        const row = await this.#db.selectFrom('audit_log').select('seq').where('hash', '=', hash).orderBy('seq').limit(1).executeTakeFirst();
        return row === undefined ? undefined : toSafeInteger(row.seq, 'audit seq');
      }),
    );
  }
}

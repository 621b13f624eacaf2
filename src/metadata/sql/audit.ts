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
 * `npm run bench -- small`). Two other kinds of work join the same batches:
 * - a write's commit (MetadataStore.commitWrite): its entries are chained with the others, and
 *   its version and copies switched by one statement of its own (writes.ts), after the batch
 *   has locked the files' rows; a write is thus recorded and committed in one transaction;
 * - events that need no entry (appendEvents, the end of a read).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { GENESIS_HASH, auditEntryHash, verifyAuditChain } from '../audit-chain.ts';
import type { AuditEntry, AuditHead, AuditListQuery, AuditLog, AuditVerification, JsonObject, NewAuditEntry, OutboxRecord, WriteCommit, WriteCommitted } from '../port.ts';
import { checkCommit, commitWriteStatement, type CheckedCommit } from './writes.ts';
import { checkOutboxRecords, insertOutbox, outboxInsert } from './events.ts';
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
import { jsonText, toAuditEntry, toDate, toSafeInteger, type AuditRow } from './rows.ts';
import type { Database } from './schema.ts';

/** 'MDAU' as a 31-bit integer: the first half of the advisory lock key. */
const AUDIT_LOCK_NAMESPACE = 0x4d444155;
const PAGE = { fallback: 1000, max: 10_000 };
/** Most entries one group commit writes. */
const MAX_BATCH = 256;

type AuditFields = Omit<Parameters<typeof auditEntryHash>[1], 'seq' | 'at'>;

/** One caller's part of a group commit: entries to chain, events, and maybe a write to commit. */
interface Queued {
  readonly entries: readonly AuditFields[];
  readonly events: readonly OutboxRecord[];
  readonly commit?: CheckedCommit;
  readonly resolve: (result: QueuedResult) => void;
  readonly reject: (err: unknown) => void;
}

interface QueuedResult {
  readonly entries: AuditEntry[];
  readonly committed?: WriteCommitted;
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
    const fields = checkEntry(input);
    const { entries } = await this.#enqueue('appendAudit', { entries: [fields], events: input.events ?? [] });
    return entries[0]!;
  }

  async appendEvents(records: readonly OutboxRecord[]): Promise<void> {
    checkOutboxRecords(records);
    if (records.length > 0) await this.#enqueue('appendOutbox', { entries: [], events: records });
  }

  /** See MetadataStore.commitWrite. */
  async commitWrite(input: WriteCommit): Promise<WriteCommitted> {
    const commit = checkCommit(input);
    const entries = input.audit.map(checkEntry);
    const { committed } = await this.#enqueue('commitWrite', { entries, events: input.audit.flatMap((e) => e.events ?? []), commit });
    return committed!;
  }

  readonly #queue: Queued[] = [];
  #flushing = false;

  #enqueue(operation: string, item: Omit<Queued, 'resolve' | 'reject'>): Promise<QueuedResult> {
    // The misuse guard runs for this caller (a caller inside a transaction fails alone).
    return this.#run(
      operation,
      () =>
        new Promise<QueuedResult>((resolve, reject) => {
          this.#queue.push({ ...item, resolve, reject });
          if (!this.#flushing) void this.#flush();
        }),
    );
  }

  /**
   * Writes what is queued, a batch per transaction, until the queue is empty. A batch that fails
   * is tried again one item per transaction, so one bad item fails alone.
   */
  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        try {
          const results = await this.#writeBatch(batch);
          batch.forEach((b, i) => b.resolve(results[i]!));
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          for (const b of batch) {
            try {
              b.resolve((await this.#writeBatch([b]))[0]!);
            } catch (alone) {
              b.reject(alone);
            }
          }
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * One transaction for the batch: the log's lock, then (one statement) the files' rows and the
   * log's head, then each write's commit, then (one statement) every entry of the batch chained
   * after the head, with all its events. A write whose commit does not apply (its version is no
   * longer pending) records nothing.
   */
  #writeBatch(batch: readonly Queued[]): Promise<QueuedResult[]> {
    return this.#db.transaction().execute(async (trx) => {
      const commits = batch.flatMap((b) => (b.commit === undefined ? [] : [b.commit]));
      if (commits.length === 0 && batch.every((b) => b.entries.length === 0)) {
        await insertOutbox(
          trx,
          batch.flatMap((b) => b.events),
        );
        return batch.map(() => ({ entries: [] }));
      }
      // The log's lock first, then the files' rows: every batch takes them in this order, and
      // other transactions take no more than one file's row, so no two can wait on each other.
      await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_NAMESPACE)}, ('audit_log'::regclass)::oid::integer)`.execute(trx);
      const head = await lockFilesAndReadHead(
        trx,
        commits.map((c) => c.fileId),
      );
      const done: (WriteCommitted | undefined)[] = [];
      for (const b of batch) done.push(b.commit === undefined ? undefined : await commitWriteStatement(trx, b.commit));
      const recorded = batch.map((b, i) => b.commit === undefined || done[i]!.applied);
      const entries = await chainEntries(
        trx,
        head,
        batch.flatMap((b, i) => (recorded[i] ? b.entries : [])),
        batch.flatMap((b, i) => (recorded[i] ? b.events : [])),
      );
      let next = 0;
      return batch.map((b, i) => {
        const mine = recorded[i] ? entries.slice(next, next + b.entries.length) : [];
        next += mine.length;
        const committed = done[i];
        return committed === undefined ? { entries: mine } : { entries: mine, committed: committed.applied ? { ...committed, audit: mine } : committed };
      });
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

/** An entry as the log hashes it, checked before it joins a batch. */
function checkEntry(input: NewAuditEntry): AuditFields {
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
  return { principal, action, location, objectKey, keyId, sha256, outcome, details };
}

interface Head {
  readonly seq: number;
  readonly hash: string;
  readonly at: Date;
}

/**
 * Locks the rows of `fileIds` (in id order) and reads the log's head and the database clock, in
 * one statement after the log's lock: its snapshot sees the previous holder's commit, and no
 * other batch can append meanwhile.
 */
async function lockFilesAndReadHead(trx: Transaction<Database>, fileIds: readonly string[]): Promise<Head> {
  const result = await sql<{ locked: unknown; seq: unknown; hash: string | null; at: unknown }>`
    with locked as (select id from files where id = any(${fileIds}::bigint[]) order by id for update)
    select (select count(*) from locked) as locked, -- a CTE nobody reads is never run: this runs it
      (select seq from audit_log order by seq desc limit 1) as seq,
      (select hash from audit_log order by seq desc limit 1) as hash,
      date_trunc('milliseconds', clock_timestamp()) as at`.execute(trx);
  const row = result.rows[0];
  return {
    seq: row?.seq === null || row?.seq === undefined ? 0 : toSafeInteger(row.seq, 'audit seq'),
    hash: row?.hash ?? GENESIS_HASH,
    at: toDate(row?.at, 'database clock'),
  };
}

/** Chains `fields` after `head`, in order, and inserts them with `events`, in one statement. */
async function chainEntries(trx: Transaction<Database>, head: Head, fields: readonly AuditFields[], events: readonly OutboxRecord[]): Promise<AuditEntry[]> {
  if (fields.length === 0) {
    await insertOutbox(trx, events);
    return [];
  }
  let seq = head.seq;
  let prevHash = head.hash;
  const { at } = head;
  const rows = fields.map((f) => {
    seq += 1;
    const hash = auditEntryHash(prevHash, { seq, at, ...f });
    const row = { seq, f, prevHash, hash };
    prevHash = hash;
    return row;
  });
  // One text whatever the batch's size (arrays, not a VALUES list): one prepared statement.
  const inserted = await sql<AuditRow>`
    with events as (${outboxInsert(events)})
    insert into audit_log (seq, at, principal, action, location, object_key, key_id, sha256, outcome, details, prev_hash, hash)
    select e.seq, ${at}::timestamptz, e.principal, e.action, e.location, e.object_key, e.key_id, e.sha256, e.outcome, e.details::jsonb, e.prev_hash, e.hash
    from unnest(${rows.map((r) => r.seq)}::bigint[], ${rows.map((r) => r.f.principal)}::text[], ${rows.map((r) => r.f.action)}::text[], ${rows.map((r) => r.f.location)}::text[],
      ${rows.map((r) => r.f.objectKey)}::text[], ${rows.map((r) => r.f.keyId)}::text[], ${rows.map((r) => r.f.sha256)}::text[], ${rows.map((r) => r.f.outcome)}::text[],
      ${rows.map((r) => jsonText(r.f.details))}::text[], ${rows.map((r) => r.prevHash)}::text[], ${rows.map((r) => r.hash)}::text[])
      as e(seq, principal, action, location, object_key, key_id, sha256, outcome, details, prev_hash, hash)
    returning *`.execute(trx);
  return inserted.rows.map(toAuditEntry).sort((a, b) => a.seq - b.seq);
}

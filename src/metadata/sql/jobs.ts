/**
 * The job queue on Kysely, shared by the PGlite and PostgreSQL adapters: PostgreSQL's row
 * locks do the distributing, so there is no scheduler of our own to get wrong.
 *
 * - Claiming is one statement: a CTE picks due rows in "claimable since" order with
 *   `FOR UPDATE SKIP LOCKED` (concurrent claimers skip rows another claimer holds instead of
 *   queueing behind it), and the UPDATE stamps them with the claimer. The statement is its own
 *   transaction, so the row locks last only as long as the claim itself.
 * - Every change a worker makes afterwards is one UPDATE guarded by `state = 'running' and
 *   locked_by = <worker>`: a compare-and-set in the database. If another worker's claim took
 *   the job over in between, the guard fails and the caller is told, never overwritten; if
 *   both race, the row lock orders them and the loser's WHERE is re-checked against the
 *   winner's row (READ COMMITTED re-evaluation), so it fails too.
 * - Times are `now()`, the database clock, so workers on hosts with skewed clocks agree about
 *   leases and retry times.
 *
 * Works the same on PGlite (one connection; SKIP LOCKED is accepted and there is simply
 * nothing to skip) and on PostgreSQL.
 */
import { sql, type Expression, type Kysely, type RawBuilder, type Transaction, type UpdateQueryBuilder, type UpdateResult } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import {
  FINISHED_JOB_STATES,
  type ClaimOptions,
  type EnqueueResult,
  type Job,
  type JobCounts,
  type JobFailure,
  type JobId,
  type JobListQuery,
  type JobQueue,
  type JobState,
  type JsonObject,
  type JsonValue,
  type NewJob,
  type Page,
  type RequeueFilter,
  type Transition,
} from '../port.ts';
import {
  checkAgeMs,
  checkDate,
  checkDedupeKey,
  checkDurationMs,
  checkErrorMessage,
  checkJobJson,
  checkJobKind,
  checkJobObject,
  checkJobState,
  checkLabel,
  checkLimit,
  checkMaxAttempts,
  checkStates,
} from '../validation.ts';
import { decodeIdCursor, encodeIdCursor } from './cursor.ts';
import { guarded, mapDatabaseError } from './errors.ts';
import { jsonText, parseId, toId, toJob, toSafeInteger, type JobRow } from './rows.ts';
import type { Database } from './schema.ts';

const now = sql<Date>`now()`;

const DEFAULT_MAX_ATTEMPTS = 10;
const CLAIM_LIMIT = { fallback: 1, max: 1000 };
const LIST_PAGE = { fallback: 100, max: 1000 };
const PURGE_LIMIT = { fallback: 10_000, max: 100_000 };
const MAX_BATCH = 10_000;
/** Rows per INSERT: 6 parameters each, far below PostgreSQL's 65 535 per statement. */
const INSERT_CHUNK = 1000;
/** Dedupe lookups retried when the job that blocked an insert finishes before it is read. */
const ENQUEUE_ROUNDS = 5;

/**
 * Verbatim the expression of `jobs_claimable_idx` (migrations/003_jobs.ts): when the job
 * became claimable. The planner only uses the index if the query spells it the same way.
 */
const CLAIMABLE_AT = sql`(case when state = 'queued' then run_after else lease_until end)`;

type Executor = Kysely<Database> | Transaction<Database>;
type JobUpdate = UpdateQueryBuilder<Database, 'jobs', 'jobs', UpdateResult>;

function afterMs(ms: number): RawBuilder<Date> {
  return sql<Date>`now() + ${ms}::double precision * interval '1 millisecond'`;
}

function invalid(message: string, details: Record<string, unknown> = {}): MovingDataError {
  return new MovingDataError('invalid_argument', message, { retryable: false, details });
}

function noSuchJob(id: JobId): MovingDataError {
  return new MovingDataError('not_found', `no job with id ${String(id)}`, { retryable: false, details: { jobId: id } });
}

/** A `NewJob` checked and turned into column values. */
interface CheckedJob {
  readonly kind: string;
  readonly payload: string;
  readonly dedupeKey: string | null;
  readonly maxAttempts: number;
  readonly runAfter: Date | RawBuilder<Date>;
}

function checkNewJob(input: NewJob): CheckedJob {
  if (typeof input !== 'object' || input === null) throw invalid('a job must be an object');
  if (input.runAfter !== undefined && input.delayMs !== undefined) throw invalid('give runAfter or delayMs, not both');
  return {
    kind: checkJobKind(input.kind),
    payload: jsonText(checkJobObject(input.payload, 'payload')),
    dedupeKey: checkDedupeKey(input.dedupeKey),
    maxAttempts: checkMaxAttempts(input.maxAttempts, DEFAULT_MAX_ATTEMPTS),
    runAfter: input.runAfter !== undefined ? checkDate(input.runAfter, 'runAfter') : afterMs(input.delayMs === undefined ? 0 : checkDurationMs(input.delayMs, 'delayMs')),
  };
}

function checkWorkerId(workerId: string): string {
  return checkLabel(workerId, 'workerId');
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const dedupeSlot = (kind: string, key: string): string => JSON.stringify([kind, key]);

export class SqlJobQueue implements JobQueue {
  readonly #db: Kysely<Database>;
  readonly #guard: () => void;

  constructor(db: Kysely<Database>, guard: () => void) {
    this.#db = db;
    this.#guard = guard;
  }

  #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return guarded(this.#guard, operation, work);
  }

  // ---- producers ----------------------------------------------------------------------------

  async enqueue(input: NewJob): Promise<EnqueueResult> {
    const job = checkNewJob(input);
    return this.#run('enqueue', async () => {
      const [result] = await this.#insert(this.#db, [job]);
      if (result === undefined) throw new MovingDataError('internal', 'enqueue returned no job', { retryable: false });
      return result;
    });
  }

  async enqueueMany(inputs: readonly NewJob[]): Promise<EnqueueResult[]> {
    if (!Array.isArray(inputs)) throw invalid('enqueueMany takes an array of jobs');
    if (inputs.length > MAX_BATCH) throw invalid(`enqueueMany takes at most ${MAX_BATCH} jobs per call`, { count: inputs.length });
    const jobs = inputs.map(checkNewJob);
    if (jobs.length === 0) return [];
    // One transaction: a batch is enqueued whole or not at all, so a producer that retries
    // after an error neither loses nor (thanks to dedupe keys) doubles any of it.
    return this.#run('enqueueMany', () => this.#db.transaction().execute((trx) => this.#insert(trx, jobs)));
  }

  /**
   * Insert-or-nothing, then read what blocked the rest: the partial unique index arbitrates
   * concurrent producers. A blocker that finishes between the two statements frees its key,
   * so those jobs go round again.
   */
  async #insert(db: Executor, jobs: readonly CheckedJob[]): Promise<EnqueueResult[]> {
    // With several rows, ids are reserved first so each returned row maps back to its input
    // exactly (RETURNING promises no order, and skipped rows leave gaps).
    const ids = jobs.length === 1 ? [undefined] : await this.#reserveIds(db, jobs.length);
    const results = new Array<EnqueueResult | undefined>(jobs.length);
    let pending = jobs.map((job, index) => ({ job, index, id: ids[index] }));

    for (let round = 0; round < ENQUEUE_ROUNDS && pending.length > 0; round += 1) {
      const insertedById = new Map<string, Job>();
      for (const chunk of chunks(pending, INSERT_CHUNK)) {
        const rows = await db
          .insertInto('jobs')
          .values(
            chunk.map(({ job, id }) => ({
              ...(id === undefined ? {} : { id }),
              kind: job.kind,
              payload: job.payload,
              dedupe_key: job.dedupeKey,
              max_attempts: job.maxAttempts,
              run_after: job.runAfter,
            })),
          )
          .onConflict((oc) => oc.columns(['kind', 'dedupe_key']).where('finished_at', 'is', null).where('dedupe_key', 'is not', null).doNothing())
          .returningAll()
          .execute();
        for (const row of rows) {
          const job = toJob(row);
          insertedById.set(job.id, job);
        }
      }
      const blocked: typeof pending = [];
      for (const entry of pending) {
        const inserted = entry.id === undefined ? insertedById.values().next().value : insertedById.get(entry.id);
        if (inserted !== undefined) results[entry.index] = { job: inserted, created: true };
        else blocked.push(entry);
      }
      pending = blocked;
      if (blocked.length === 0) break;

      const existing = await this.#unfinishedByDedupeKey(
        db,
        blocked.map((b) => {
          if (b.job.dedupeKey === null) throw new MovingDataError('internal', 'a job without dedupe key was not inserted', { retryable: false });
          return [b.job.kind, b.job.dedupeKey] as const;
        }),
      );
      pending = [];
      for (const entry of blocked) {
        const job = existing.get(dedupeSlot(entry.job.kind, entry.job.dedupeKey ?? ''));
        if (job !== undefined) results[entry.index] = { job, created: false };
        else pending.push(entry);
      }
    }
    if (pending.length > 0) {
      throw new MovingDataError('conflict', 'jobs with these dedupe keys keep being enqueued and finished; try again', { retryable: true, details: { count: pending.length } });
    }
    return results.map((r) => {
      if (r === undefined) throw new MovingDataError('internal', 'enqueue lost track of a job', { retryable: false });
      return r;
    });
  }

  async #reserveIds(db: Executor, count: number): Promise<string[]> {
    const { rows } = await sql<{ id: unknown }>`select nextval(pg_get_serial_sequence('jobs', 'id')) as id from generate_series(1, ${count}::integer)`.execute(db);
    return rows.map((r) => toId(r.id));
  }

  async #unfinishedByDedupeKey(db: Executor, slots: readonly (readonly [string, string])[]): Promise<Map<string, Job>> {
    const found = new Map<string, Job>();
    const unique = [...new Map(slots.map((s) => [dedupeSlot(...s), s])).values()];
    for (const chunk of chunks(unique, INSERT_CHUNK)) {
      const pairs = sql.join(chunk.map(([kind, key]) => sql`(${kind}, ${key})`));
      const rows = await db
        .selectFrom('jobs')
        .selectAll()
        .where('finished_at', 'is', null)
        .where('dedupe_key', 'is not', null)
        .where(sql<boolean>`(kind, dedupe_key) in (${pairs})`)
        .execute();
      for (const row of rows) {
        const job = toJob(row);
        if (job.dedupeKey !== null) found.set(dedupeSlot(job.kind, job.dedupeKey), job);
      }
    }
    return found;
  }

  // ---- workers ------------------------------------------------------------------------------

  async claim(workerId: string, options: ClaimOptions): Promise<Job[]> {
    const worker = checkWorkerId(workerId);
    const leaseMs = checkDurationMs(options.leaseMs, 'leaseMs', 1);
    const limit = checkLimit(options.limit, CLAIM_LIMIT.fallback, CLAIM_LIMIT.max);
    const kinds = options.kinds === undefined ? undefined : [...new Set(options.kinds.map(checkJobKind))];
    if (kinds !== undefined && kinds.length === 0) throw invalid('kinds must not be empty (leave it out to claim any kind)');

    // A takeover that would start one run too many: the job has lost its worker on every
    // attempt (a handler that crashes or hangs the process), so it goes dead instead.
    const exhausted = sql`(j.state = 'running' and j.attempts >= j.max_attempts)`;
    const kindFilter = kinds === undefined ? sql`` : sql`and kind in (${sql.join(kinds)})`;
    return this.#run('claim', async () => {
      // `materialized`: the CTE runs exactly once, locking at most `limit` rows.
      const { rows } = await sql<JobRow>`
        with claimable as materialized (
          select id from jobs
          where state in ('queued', 'running') and ${CLAIMABLE_AT} <= now() ${kindFilter}
          order by ${CLAIMABLE_AT}, id
          limit ${limit}
          for update skip locked
        )
        update jobs as j set
          state = case when ${exhausted} then 'dead' else 'running' end,
          attempts = case when ${exhausted} then j.attempts else j.attempts + 1 end,
          locked_by = case when ${exhausted} then j.locked_by else ${worker} end,
          lease_until = case when ${exhausted} then null else ${afterMs(leaseMs)} end,
          last_error = case when j.state = 'running' then 'lease of ' || j.locked_by || ' ran out during attempt ' || j.attempts else j.last_error end,
          finished_at = case when ${exhausted} then now() else null end,
          updated_at = now()
        from claimable
        where j.id = claimable.id
        returning j.*`.execute(this.#db);
      return rows
        .map(toJob)
        .filter((job) => job.state === 'running')
        .sort((a, b) => a.runAfter.getTime() - b.runAfter.getTime() || Number(BigInt(a.id) - BigInt(b.id)));
    });
  }

  async heartbeat(jobId: JobId, workerId: string, leaseMs: number): Promise<boolean> {
    const worker = checkWorkerId(workerId);
    const lease = checkDurationMs(leaseMs, 'leaseMs', 1);
    const id = parseId(jobId);
    if (id === undefined) return false;
    return this.#run('heartbeat', async () => {
      const row = await this.#owned(this.#db.updateTable('jobs').set({ lease_until: afterMs(lease), updated_at: now }), id, worker)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  async saveProgress(jobId: JobId, workerId: string, progress: JsonObject): Promise<boolean> {
    const worker = checkWorkerId(workerId);
    const value = jsonText(checkJobObject(progress, 'progress'));
    const id = parseId(jobId);
    if (id === undefined) return false;
    return this.#run('saveProgress', async () => {
      const row = await this.#owned(this.#db.updateTable('jobs').set({ progress: value, updated_at: now }), id, worker)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  async complete(jobId: JobId, workerId: string, result?: JsonValue): Promise<Transition<Job>> {
    const worker = checkWorkerId(workerId);
    const value = result === undefined || result === null ? null : jsonText(checkJobJson(result, 'result'));
    const id = parseId(jobId);
    if (id === undefined) throw noSuchJob(jobId);
    return this.#run('complete', async () => {
      const row = await this.#owned(
        this.#db.updateTable('jobs').set({ state: 'succeeded', result: value, lease_until: null, finished_at: now, updated_at: now }),
        id,
        worker,
      )
        .returningAll()
        .executeTakeFirst();
      return row === undefined ? this.#notApplied(id, jobId) : { applied: true, value: toJob(row) };
    });
  }

  async fail(jobId: JobId, workerId: string, error: string, options: JobFailure = {}): Promise<Transition<Job>> {
    const worker = checkWorkerId(workerId);
    const message = checkErrorMessage(typeof error === 'string' ? error : String(error)) ?? '';
    const retryDelayMs = checkDurationMs(options.retryDelayMs ?? 0, 'retryDelayMs');
    const retryable = options.retryable ?? true;
    const id = parseId(jobId);
    if (id === undefined) throw noSuchJob(jobId);

    // Retryable: queued again unless this was the last attempt. The owner stays on record
    // once the job is finished, and is cleared when it goes back to the queue.
    const lastAttempt = sql<boolean>`attempts >= max_attempts`;
    const change = retryable
      ? {
          state: sql<string>`case when ${lastAttempt} then 'dead' else 'queued' end`,
          run_after: sql<Date>`case when ${lastAttempt} then run_after else ${afterMs(retryDelayMs)} end`,
          locked_by: sql<string | null>`case when ${lastAttempt} then locked_by else null end`,
          finished_at: sql<Date | null>`case when ${lastAttempt} then now() else null end`,
        }
      : { state: 'failed', finished_at: now };
    return this.#run('fail', async () => {
      const row = await this.#owned(this.#db.updateTable('jobs').set({ ...change, last_error: message, lease_until: null, updated_at: now }), id, worker)
        .returningAll()
        .executeTakeFirst();
      return row === undefined ? this.#notApplied(id, jobId) : { applied: true, value: toJob(row) };
    });
  }

  async release(jobId: JobId, workerId: string): Promise<boolean> {
    const worker = checkWorkerId(workerId);
    const id = parseId(jobId);
    if (id === undefined) return false;
    return this.#run('release', async () => {
      const row = await this.#owned(
        this.#db.updateTable('jobs').set((eb) => ({
          state: 'queued',
          // The run was interrupted on purpose, not failed: it does not use up an attempt.
          attempts: sql<number>`greatest(${eb.ref('attempts')} - 1, 0)`,
          run_after: now,
          locked_by: null,
          lease_until: null,
          updated_at: now,
        })),
        id,
        worker,
      )
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  /** The compare-and-set every worker call goes through: the job is running and still ours. */
  #owned(query: JobUpdate, id: string, worker: string): JobUpdate {
    return query.where('id', '=', id).where('state', '=', 'running').where('locked_by', '=', worker);
  }

  async #notApplied(id: string, jobId: JobId): Promise<Transition<Job>> {
    const current = await this.#db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    if (current === undefined) throw noSuchJob(jobId);
    return { applied: false, current: toJob(current) };
  }

  // ---- operators ----------------------------------------------------------------------------

  async get(jobId: JobId): Promise<Job> {
    const id = parseId(jobId);
    if (id === undefined) throw noSuchJob(jobId);
    return this.#run('getJob', async () => {
      const row = await this.#db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      if (row === undefined) throw noSuchJob(jobId);
      return toJob(row);
    });
  }

  async list(query: JobListQuery = {}): Promise<Page<Job>> {
    const limit = checkLimit(query.limit, LIST_PAGE.fallback, LIST_PAGE.max);
    const state = query.state === undefined ? undefined : checkJobState(query.state);
    const kind = query.kind === undefined ? undefined : checkJobKind(query.kind);
    const order = query.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') throw invalid("order must be 'asc' or 'desc'", { order });
    // Newest-first cursors are their own scope: one made for the other order does not decode.
    const scope = order === 'asc' ? 'jobs' : 'jobs-desc';
    const after = decodeIdCursor(scope, query.cursor);
    return this.#run('listJobs', async () => {
      let q = this.#db.selectFrom('jobs').selectAll();
      if (state !== undefined) q = q.where('state', '=', state);
      if (kind !== undefined) q = q.where('kind', '=', kind);
      if (after !== undefined) q = q.where('id', order === 'asc' ? '>' : '<', after);
      const rows = await q.orderBy('id', order).limit(limit + 1).execute();
      const items = rows.slice(0, limit).map(toJob);
      const last = items.at(-1);
      return rows.length > limit && last ? { items, nextCursor: encodeIdCursor(scope, last.id) } : { items };
    });
  }

  async counts(): Promise<Readonly<Record<string, JobCounts>>> {
    return this.#run('countJobs', async () => {
      const { rows } = await sql<Record<keyof JobCounts, unknown> & { kind: string }>`
        select kind,
          count(*) filter (where state = 'queued') as queued,
          count(*) filter (where state = 'running') as running,
          count(*) filter (where state = 'succeeded') as succeeded,
          count(*) filter (where state = 'failed') as failed,
          count(*) filter (where state = 'dead') as dead,
          count(*) filter (where state = 'queued' and attempts > 0) as retrying,
          count(*) filter (where state = 'running' and lease_until <= now()) as stalled
        from jobs group by kind order by kind`.execute(this.#db);
      const counts: Record<string, JobCounts> = {};
      for (const row of rows) {
        counts[row.kind] = {
          queued: toSafeInteger(row.queued),
          running: toSafeInteger(row.running),
          succeeded: toSafeInteger(row.succeeded),
          failed: toSafeInteger(row.failed),
          dead: toSafeInteger(row.dead),
          retrying: toSafeInteger(row.retrying),
          stalled: toSafeInteger(row.stalled),
        };
      }
      return counts;
    });
  }

  async requeueDead(filter: RequeueFilter = {}): Promise<number> {
    const states: JobState[] = filter.includeFailed === true ? ['dead', 'failed'] : ['dead'];
    const kind = filter.kind === undefined ? undefined : checkJobKind(filter.kind);
    const given: unknown = filter.ids;
    if (given !== undefined && !Array.isArray(given)) throw invalid('ids must be an array of job ids');
    // Ids that cannot exist match nothing rather than failing the whole request.
    const ids = (given as readonly unknown[] | undefined)?.map((id) => (typeof id === 'string' ? parseId(id) : undefined)).filter((id): id is string => id !== undefined);
    if (ids !== undefined && ids.length === 0) return 0;

    const stateList = sql.join(states);
    const kindFilter = kind === undefined ? sql`` : sql`and kind = ${kind}`;
    const idFilter = ids === undefined ? sql`` : sql`and id in (${sql.join(ids.map((id) => sql`${id}::bigint`))})`;
    return this.#run('requeueDead', async () => {
      try {
        // The dedupe key must stay unique among unfinished jobs: skip jobs whose key a live job
        // holds, and of several matching jobs sharing a key take the newest.
        const { rows } = await sql<{ id: unknown }>`
          with matching as (
            select id, kind, dedupe_key, row_number() over (partition by kind, dedupe_key order by id desc) as newest
            from jobs
            where state in (${stateList}) ${kindFilter} ${idFilter}
          ), chosen as (
            select id from matching m
            where m.dedupe_key is null
               or (m.newest = 1 and not exists (
                    select 1 from jobs live where live.kind = m.kind and live.dedupe_key = m.dedupe_key and live.finished_at is null))
          )
          update jobs set state = 'queued', attempts = 0, run_after = now(), locked_by = null, lease_until = null,
            result = null, finished_at = null, updated_at = now()
          where id in (select id from chosen) and state in (${stateList})
          returning id`.execute(this.#db);
        return rows.length;
      } catch (err) {
        const mapped = mapDatabaseError(err, 'requeueDead');
        if (mapped.code === 'conflict' && !mapped.retryable) {
          throw new MovingDataError('conflict', 'a job with the same dedupe key was enqueued meanwhile; try again', { retryable: true, cause: err });
        }
        throw mapped;
      }
    });
  }

  async purgeFinished(options: { readonly olderThanMs: number; readonly states?: readonly JobState[]; readonly limit?: number }): Promise<number> {
    const olderThanMs = checkAgeMs(options.olderThanMs, 'olderThanMs');
    const states = checkStates(options.states ?? ['succeeded'], checkJobState);
    const unfinished = states.filter((s) => !(FINISHED_JOB_STATES as readonly string[]).includes(s));
    if (unfinished.length > 0) throw invalid('only finished jobs (succeeded, failed, dead) can be purged', { states: unfinished });
    const limit = checkLimit(options.limit, PURGE_LIMIT.fallback, PURGE_LIMIT.max);
    const cutoff: Expression<Date> = sql<Date>`now() - ${olderThanMs}::double precision * interval '1 millisecond'`;
    return this.#run('purgeFinished', async () => {
      const rows = await this.#db
        .deleteFrom('jobs')
        .where('id', 'in', (eb) => eb.selectFrom('jobs').select('id').where('state', 'in', states).where('finished_at', '<', cutoff).orderBy('finished_at').limit(limit))
        .returning('id')
        .execute();
      return rows.length;
    });
  }
}

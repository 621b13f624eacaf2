/**
 * The consistency manager and the job queue over HTTP:
 * - GET /consistency/status: drift counts by kind (from each location's latest scan), retries
 *   waiting and dead-lettered jobs, the last successful sync per location, recent conflicts,
 *   and job counts by kind and state;
 * - POST /consistency/scan { locations?, wait?, deep? }: scan now (one scan per location at a time:
 *   asking while one runs returns that one); each drift item becomes a repair job;
 * - GET /jobs/{id}: one job's state, attempts, result and last error — how a caller follows a
 *   replicate, move or scan it did not wait for;
 * - GET /jobs?kind=&state=&limit=&cursor=: jobs newest first, keyset pages, with the counts by
 *   kind and state (operators);
 * - POST /jobs/{id}/retry: a dead job back to the queue with a fresh set of attempts (operators;
 *   audited before it moves, and again with outcome `error` if it then does not). 409 `conflict`
 *   for a job that is not dead, or whose dedupe key a live job holds.
 *
 * Operators' views: admin, operations and system roles (the status names object keys); a job
 * is also visible to the principal it acts for.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../../access/policy.ts';
import type { AuditTrail } from '../../audit/audit-trail.ts';
import { MovingDataError } from '../../errors.ts';
import { JOB_STATES, type Job, type JobQueue } from '../../metadata/index.ts';
import { ErrorSchema } from '../contract.ts';
import { isFinished, type JobOutcome, type JobRunner } from '../../jobs/runner.ts';
import { DRIFT_KINDS } from '../../replication/drift.ts';
import type { ConsistencyManager } from '../../replication/consistency.ts';
import { BEARER_SECURITY, authorizeRoles, requirePrincipal } from '../auth.ts';
import { JobView, jobView } from './replication.ts';

export const OPERATOR_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, 'operations', SYSTEM_ROLE]);
const WAIT_MS = 10 * 60_000;

const DriftCounts = Type.Object(Object.fromEntries(DRIFT_KINDS.map((k) => [k, Type.Integer()])));

export const StatusResponse = Type.Object({
  drift: DriftCounts,
  drift_total: Type.Integer(),
  retries: Type.Object({
    retrying: Type.Integer({ description: 'jobs waiting for a retry after a failure' }),
    dead: Type.Integer({ description: 'jobs that used up their attempts (the dead letter)' }),
  }),
  locations: Type.Array(
    Type.Object({
      location: Type.String(),
      last_scan_at: Type.Union([Type.String(), Type.Null()]),
      last_successful_sync: Type.Union([Type.String(), Type.Null()], { description: 'the last scan that found this location fully in sync' }),
      objects: Type.Union([Type.Integer(), Type.Null()]),
      drift: Type.Union([DriftCounts, Type.Null()]),
    }),
  ),
  recent_conflicts: Type.Array(
    Type.Object({ location: Type.String(), key: Type.String(), detail: Type.String(), stored_size: Type.Union([Type.Integer(), Type.Null()]), stored_at: Type.Union([Type.String(), Type.Null()]) }),
  ),
  jobs: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer())),
});

const JOB_ID = Type.String({ pattern: '^[0-9]{1,19}$' });

/** A job in the listing: its outcome (JobView) and when and what it is about. */
export const JobListItem = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  state: Type.String({ description: 'queued | running | succeeded | failed | dead' }),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  last_error: Type.Union([Type.String(), Type.Null()]),
  location: Type.Union([Type.String(), Type.Null()], { description: "the location the job works on (its payload's), if any" }),
  subject: Type.Union([Type.String(), Type.Null()], { description: "the object key or file it works on (its payload's), if any" }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  run_after: Type.String({ format: 'date-time', description: 'due from then (a retry waits until it)' }),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const JobListResponse = Type.Object({
  jobs: Type.Array(JobListItem),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
  counts: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer()), { description: 'every job by kind, then by state (plus retrying and stalled), whatever the filters' }),
});

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function jobListItem(job: Job): Static<typeof JobListItem> {
  const p = job.payload;
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    last_error: job.lastError,
    location: text(p['location']) ?? text(p['from']),
    subject: text(p['object_key']) ?? text(p['key']) ?? text(p['file_id']) ?? text(p['decision_id']),
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    run_after: job.runAfter.toISOString(),
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}

export interface ConsistencyRoutesOptions {
  readonly consistency: ConsistencyManager;
  readonly jobs: JobRunner;
  /** The queue itself, for the listing and the operator's retry. */
  readonly queue: JobQueue;
  readonly audit: AuditTrail;
}

export const consistencyRoutes: FastifyPluginAsyncTypebox<ConsistencyRoutesOptions> = async (app, { consistency, jobs, queue, audit }) => {
  app.get(
    '/consistency/status',
    {
      config: { auth: true },
      schema: { tags: ['consistency'], summary: 'Drift by kind, retries, last successful sync per location, recent conflicts', security: [...BEARER_SECURITY], response: { 200: StatusResponse } },
    },
    async (request) => {
      await authorizeRoles(request, OPERATOR_ROLES);
      return consistency.status();
    },
  );

  app.post(
    '/consistency/scan',
    {
      config: { auth: true },
      schema: {
        tags: ['consistency'],
        summary: 'Scan locations for drift now; each drift item becomes a repair job',
        security: [...BEARER_SECURITY],
        body: Type.Optional(
          Type.Object(
            {
              locations: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 16 })),
              wait: Type.Optional(Type.Boolean({ description: 'wait for the scans (default true)' })),
              deep: Type.Optional(
                Type.Boolean({ description: "also read each copy's header and check it against its record (rclone's check --download): finds a same-size substitution no listing shows" }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: Type.Object({ ok: Type.Boolean(), jobs: Type.Array(JobView) }), 202: Type.Object({ ok: Type.Boolean(), jobs: Type.Array(JobView) }) },
      },
    },
    async (request, reply) => {
      await authorizeRoles(request, OPERATOR_ROLES);
      // An unknown location is `not_found` from requestScans, before any scan is queued.
      const wanted = request.body?.locations;
      const submitted = await consistency.requestScans(jobs, {
        ...(wanted === undefined ? {} : { locations: wanted }),
        waitMs: request.body?.wait === false ? 0 : WAIT_MS,
        deep: request.body?.deep === true,
      });
      const finished = submitted.every(isFinished);
      return reply.status(finished ? 200 : 202).send({ ok: submitted.every((j) => j.state === 'succeeded'), jobs: submitted.map(jobView) });
    },
  );

  app.get(
    '/jobs/:id',
    {
      config: { auth: true },
      schema: {
        tags: ['replication'],
        summary: 'One job: state, attempts, result, last error',
        security: [...BEARER_SECURITY],
        params: Type.Object({ id: JOB_ID }),
        response: { 200: JobView },
      },
    },
    async (request) => {
      // Operators see every job; anyone else the jobs they submitted (replicate, move).
      const principal = requirePrincipal(request);
      const job = await jobs.get(request.params.id).catch((err: unknown) => err);
      const own = !(job instanceof Error) && (job as JobOutcome).submittedBy === principal.name;
      if (!own) await authorizeRoles(request, OPERATOR_ROLES);
      if (job instanceof Error) throw job;
      return jobView(job as JobOutcome);
    },
  );

  app.get(
    '/jobs',
    {
      config: { auth: true },
      schema: {
        tags: ['replication'],
        summary: 'Jobs newest first, by kind and state, a page at a time, with the counts by kind and state (operators)',
        security: [...BEARER_SECURITY],
        querystring: Type.Object(
          {
            kind: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,63}$', description: 'replicate, move, verify, repair, scan, tier, rotate, ...' })),
            state: Type.Optional(Type.Union(JOB_STATES.map((s) => Type.Literal(s)))),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'next_cursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: JobListResponse },
      },
    },
    async (request) => {
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'jobs_list' });
      const q = request.query;
      const [page, counts] = await Promise.all([
        queue.list({ order: 'desc', limit: q.limit ?? 50, ...(q.kind === undefined ? {} : { kind: q.kind }), ...(q.state === undefined ? {} : { state: q.state }), ...(q.cursor === undefined ? {} : { cursor: q.cursor }) }),
        queue.counts(),
      ]);
      return {
        jobs: page.items.map(jobListItem),
        next_cursor: page.nextCursor ?? null,
        counts: Object.fromEntries(Object.entries(counts).map(([kind, c]) => [kind, { ...c }])),
      };
    },
  );

  app.post(
    '/jobs/:id/retry',
    {
      config: { auth: true },
      schema: {
        tags: ['replication'],
        summary: 'Retry a dead job: back to the queue, due now, with a fresh set of attempts (operators; audited)',
        security: [...BEARER_SECURITY],
        params: Type.Object({ id: JOB_ID }),
        response: {
          200: Type.Object({ ok: Type.Boolean(), job: JobListItem }),
          409: { description: 'the job is not dead (conflict, details.state), or a live job holds its dedupe key (conflict)', content: { 'application/json': { schema: ErrorSchema } } },
        },
      },
    },
    async (request) => {
      // Authorised before the job is looked up: which jobs exist is operators' business.
      const principal = await authorizeRoles(request, OPERATOR_ROLES, { action: 'job_retry' });
      const id = request.params.id;
      const job = await queue.get(id);
      if (job.state !== 'dead') {
        throw new MovingDataError('conflict', `job ${id} is ${job.state}, not dead: only a dead job (out of attempts) can be retried`, { retryable: false, details: { job_id: id, state: job.state } });
      }
      // Recorded before the job moves: a retry that cannot be recorded does not happen.
      const details = { job_id: id, kind: job.kind, attempts_before: job.attempts, last_error: job.lastError ?? '' };
      await audit.policy({ principal: principal.name, decision: 'job_retry', details });
      const requeued = await queue.requeueDead({ ids: [id] });
      if (requeued === 0) {
        const now = await queue.get(id);
        const why = now.state === 'dead' ? 'a live job of the same kind holds its dedupe key (the same work is queued or running)' : `it is ${now.state} now`;
        // The entry above said it would be retried: this one says it was not.
        await audit.policy({ principal: principal.name, decision: 'job_retry', outcome: 'error', details: { ...details, reason: why } });
        throw new MovingDataError('conflict', `job ${id} was not requeued: ${why}`, { retryable: false, details: { job_id: id, state: now.state } });
      }
      return { ok: true, job: jobListItem(await queue.get(id)) };
    },
  );
};

/**
 * The consistency manager and the job queue over HTTP:
 * - GET /consistency/status: drift counts by kind (from each location's latest scan), retries
 *   waiting and dead-lettered jobs, the last successful sync per location, recent conflicts,
 *   and job counts by kind and state;
 * - POST /consistency/scan { locations?, wait?, deep? }: scan now (one scan per location at a time:
 *   asking while one runs returns that one); each drift item becomes a repair job;
 * - GET /jobs/{id}: one job's state, attempts, result and last error — how a caller follows a
 *   replicate, move or scan it did not wait for.
 *
 * Operators' views: admin, operations and system roles (the status names object keys); a job
 * is also visible to the principal it acts for.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../../access/policy.ts';
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

export interface ConsistencyRoutesOptions {
  readonly consistency: ConsistencyManager;
  readonly jobs: JobRunner;
}

export const consistencyRoutes: FastifyPluginAsyncTypebox<ConsistencyRoutesOptions> = async (app, { consistency, jobs }) => {
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
        params: Type.Object({ id: Type.String({ pattern: '^[0-9]{1,19}$' }) }),
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
};

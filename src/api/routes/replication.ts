/**
 * Replication and migration of a file (the key is global; locations are named in the body):
 *   POST /files/{key}/replicate   { to: [locations], tier?, wait? }  copies to more locations
 *   POST /files/{key}/move        { from, to, tier?, wait? }         copy, verify, switch, delete
 *
 * Both run as jobs (idempotent, resumable, shared by the workers); by default the call waits
 * for them (up to 10 minutes), `wait: false` returns at once with the job ids.
 *
 * Access: the caller needs a role allowed at every location it writes to (checked before the
 * key is looked up), and at the location it reads from — replication must not carry a file to
 * where its reader could not go. Replicate copies the newest version the caller can read; move
 * carries the version held at `from`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { MovingDataError } from '../../errors.ts';
import type { MetadataStore } from '../../metadata/index.ts';
import { isFinished, type JobOutcome, type JobRunner } from '../../jobs/runner.ts';
import { BEARER_SECURITY, authorizeLocation } from '../auth.ts';
import { ErrorSchema } from '../contract.ts';

const Location = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' });
const WAIT_MS = 10 * 60_000;

// One body for both operations (they share a path): replicate uses `to` (one location or a
// list), move uses `from` and `to`. Fastify's validator coerces one-item arrays and scalars
// into each other, so `to` is normalised to a list in the handler either way.
const OperationBody = Type.Object(
  {
    to: Type.Union([Type.Array(Location, { minItems: 1, maxItems: 16 }), Location]),
    from: Type.Optional(Location),
    tier: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'provider-native tier at the target(s)' })),
    wait: Type.Optional(Type.Boolean({ description: 'wait for the jobs (default true)' })),
  },
  { additionalProperties: false },
);

export const JobView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  state: Type.String({ description: 'queued | running | succeeded | failed | dead' }),
  attempts: Type.Integer(),
  result: Type.Unknown({ description: 'what the job returned (null until it succeeds)' }),
  last_error: Type.Union([Type.String(), Type.Null()]),
  progress: Type.Record(Type.String(), Type.Unknown(), { description: 'where a multi-step job got to' }),
});

export function jobView(job: JobOutcome): { id: string; kind: string; state: string; attempts: number; result: unknown; last_error: string | null; progress: Record<string, unknown> } {
  return { id: job.id, kind: job.kind, state: job.state, attempts: job.attempts, result: job.result, last_error: job.lastError, progress: { ...job.progress } };
}

export interface ReplicationRoutesOptions {
  readonly metadata: MetadataStore;
  readonly jobs: JobRunner;
  readonly locations: readonly string[];
}

/** The newest version of `key` with a verified copy at one of `readable`, and where it is. */
async function newestReadable(metadata: MetadataStore, key: string, readable: readonly string[]): Promise<{ fileId: string; version: number; sources: string[] } | undefined> {
  if (key === '') return undefined;
  const live = (await Promise.all(readable.map((l) => metadata.liveReplicaAt(key, l)))).filter((x) => x !== undefined && x.replica.state === 'verified');
  if (live.length === 0) return undefined;
  const newest = Math.max(...live.map((x) => x!.version.version));
  const holders = live.filter((x) => x!.version.version === newest);
  return { fileId: holders[0]!.file.id, version: newest, sources: holders.map((x) => x!.replica.location) };
}

export const replicationRoutes: FastifyPluginAsyncTypebox<ReplicationRoutesOptions> = async (app, { metadata, jobs, locations }) => {
  const known = (location: string): void => {
    if (!locations.includes(location)) throw new MovingDataError('not_found', `no location named '${location}'; locations: ${locations.join(', ')}`, { details: { location } });
  };

  app.post(
    '/files/*',
    {
      // For 405s elsewhere: of the paths under /files, POST serves only these (see contract.ts).
      config: { auth: true, pathPattern: '^/files/.+/(replicate|move)$' },
      // POST serves /files/{key}/replicate and /files/{key}/move only: any other path under
      // /files is an object's, which POST does not serve (405, before the body is judged).
      preValidation: async (request, reply) => {
        const path = (request.params)['*'];
        const action = path.slice(path.lastIndexOf('/') + 1);
        if (action === 'replicate' || action === 'move') return;
        await (reply as FastifyReply)
          .status(405)
          .header('allow', 'GET, HEAD, PUT, DELETE')
          .send({ error: { code: 'invalid_argument', message: `POST is not served at /files/${path}; use /files/{key}/replicate or /files/{key}/move`, request_id: request.id } });
      },
      schema: {
        tags: ['replication'],
        summary: 'POST /files/{key}/replicate or /files/{key}/move',
        description: 'The last path segment names the operation; everything before it is the file key.',
        security: [...BEARER_SECURITY],
        params: Type.Object({ '*': Type.String({ pattern: '^.+/(replicate|move)$', description: 'the file key, then /replicate or /move' }) }),
        body: OperationBody,
        response: {
          200: Type.Object({ ok: Type.Boolean(), key: Type.String(), jobs: Type.Array(JobView) }),
          202: Type.Object({ ok: Type.Boolean(), key: Type.String(), jobs: Type.Array(JobView) }),
          405: { description: 'not a /replicate or /move path: an object path, which POST does not serve', content: { 'application/json': { schema: ErrorSchema } } },
        },
      },
    },
    async (request, reply) => {
      const path = request.params['*'];
      const cut = path.lastIndexOf('/');
      const action = path.slice(cut + 1);
      const key = cut < 0 ? '' : path.slice(0, cut);
      if (action !== 'replicate' && action !== 'move') throw new MovingDataError('not_found', `no operation '${action}': use /files/{key}/replicate or /files/{key}/move`);
      const body = request.body;
      const to = Array.isArray(body.to) ? body.to : [body.to];
      const waitMs = body.wait === false ? 0 : WAIT_MS;
      const policy = request.server.accessControl.policy;
      let submitted: JobOutcome[];
      if (action === 'replicate') {
        if (body.from !== undefined) throw new MovingDataError('invalid_argument', 'replicate takes { to: [locations] } (no from: the source is any verified copy)');
        const targets = to;
        targets.forEach(known);
        // Authorised on the locations before the key is looked up: whether a key exists is
        // nobody's business where they may not write.
        let principal = request.principal!;
        for (const target of targets) principal = await authorizeLocation(request, target, { objectKey: key, action: 'replicate' });
        // What is copied is the newest version the caller can read, from where it can read it.
        const readable = locations.filter((l) => policy.authorize(principal, l).allowed);
        const found = await newestReadable(metadata, key, readable);
        if (found === undefined) throw new MovingDataError('not_found', `no file '${key}' at a location you can read`, { details: { key } });
        const { fileId, version, sources } = found;
        submitted = await Promise.all(
          targets.map((location) =>
            jobs.submit(
              'replicate',
              { file_id: fileId, location, principal: principal.name, sources, version, ...(body.tier === undefined ? {} : { tier: body.tier }) },
              { dedupeKey: `replicate:${fileId}:${location}:${version}`, waitMs },
            ),
          ),
        );
      } else {
        if (to.length !== 1 || body.from === undefined) throw new MovingDataError('invalid_argument', 'move takes { from, to } with one location each');
        const target = to[0]!;
        known(body.from);
        known(target);
        if (body.from === target && body.tier === undefined) throw new MovingDataError('invalid_argument', 'a move within one location needs a tier');
        await authorizeLocation(request, body.from, { objectKey: key, action: 'move' });
        const principal = await authorizeLocation(request, target, { objectKey: key, action: 'move' });
        const live = key === '' ? undefined : await metadata.liveReplicaAt(key, body.from);
        if (live === undefined) throw new MovingDataError('not_found', `no file '${key}' at ${body.from}`, { details: { key } });
        if (live.replica.state !== 'verified') throw new MovingDataError('conflict', `'${key}' has no verified copy at ${body.from}`, { details: { key, from: body.from } });
        submitted = [
          await jobs.submit(
            'move',
            { file_id: live.file.id, from: body.from, to: target, version: live.version.version, principal: principal.name, ...(body.tier === undefined ? {} : { tier: body.tier }) },
            { dedupeKey: `move:${live.file.id}`, waitMs },
          ),
        ];
      }
      const finished = submitted.every(isFinished);
      return reply.status(finished ? 200 : 202).send({ ok: submitted.every((j) => j.state === 'succeeded'), key, jobs: submitted.map(jobView) });
    },
  );
};

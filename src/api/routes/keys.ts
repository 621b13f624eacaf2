/**
 * Location keys (admin and system roles):
 *   GET  /keys                      every location's key ids and recipients (never a secret)
 *   POST /keys/{location}/rotate    new active key at once; every copy's header is re-wrapped to it
 *                                   by a job (202 with the job; `wait=true` waits for it)
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../../access/policy.ts';
import type { AuditTrail } from '../../audit/audit-trail.ts';
import type { EncryptedStore } from '../../crypto/encrypted-store.ts';
import { rotateLocationKey } from '../../crypto/keys/rotation.ts';
import type { KeyProvider, LocationKey } from '../../crypto/keys/port.ts';
import { MovingDataError } from '../../errors.ts';
import type { JobRunner } from '../../jobs/runner.ts';
import { BEARER_SECURITY, authorizeRoles } from '../auth.ts';
import { JobView, jobView } from './replication.ts';

export interface KeyRoutesOptions {
  readonly keys: KeyProvider;
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  readonly audit: AuditTrail;
  readonly jobs: JobRunner;
}

const WAIT_MS = 10 * 60_000;

const KEY_ADMIN_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, SYSTEM_ROLE]);

const KeySummary = Type.Object({
  id: Type.String(),
  format: Type.Union([Type.Literal('age'), Type.Literal('fernet')]),
  recipient: Type.Union([Type.String({ description: 'age1… (public)' }), Type.Null()]),
  can_decrypt: Type.Boolean(),
});

const LocationKeysSummary = Type.Object({ location: Type.String(), active: Type.String(), keys: Type.Array(KeySummary) });

const RotationResponse = Type.Object({
  location: Type.String(),
  previous_key_id: Type.String(),
  active_key_id: Type.String(),
  job: Type.Union([JobView, Type.Null()], { description: "the re-wrap job (its `progress` counts the copies done); null with rewrap=false" }),
});

function summary(key: LocationKey): { id: string; format: 'age' | 'fernet'; recipient: string | null; can_decrypt: boolean } {
  return key.format === 'age'
    ? { id: key.id, format: 'age', recipient: key.recipient.toString(), can_decrypt: key.identity !== undefined }
    : { id: key.id, format: 'fernet', recipient: null, can_decrypt: true };
}

export const keyRoutes: FastifyPluginAsyncTypebox<KeyRoutesOptions> = async (app, deps) => {
  app.get(
    '/keys',
    {
      config: { auth: true },
      schema: { tags: ['keys'], summary: "Each location's keys (ids and public recipients only)", security: [...BEARER_SECURITY], response: { 200: Type.Object({ locations: Type.Array(LocationKeysSummary) }) } },
    },
    async (request) => {
      await authorizeRoles(request, KEY_ADMIN_ROLES, { action: 'key_list' });
      return {
        locations: [...deps.stores.keys()].map((location) => {
          const keys = deps.keys.keysFor(location);
          return { location, active: keys.active.id, keys: keys.all.map(summary) };
        }),
      };
    },
  );

  app.post(
    '/keys/:location/rotate',
    {
      config: { auth: true },
      schema: {
        tags: ['keys'],
        summary: "Rotate a location's key and re-wrap its objects (headers only; payloads untouched)",
        security: [...BEARER_SECURITY],
        params: Type.Object({ location: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }) }),
        querystring: Type.Object(
          {
            rewrap: Type.Optional(Type.Boolean({ default: true, description: 're-wrap existing copies (a job; default true)' })),
            wait: Type.Optional(Type.Boolean({ default: false, description: 'wait for the re-wrap job (up to 10 minutes)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: RotationResponse, 202: RotationResponse },
      },
    },
    async (request, reply) => {
      const { location } = request.params;
      if (!deps.stores.has(location)) throw new MovingDataError('not_found', `no location named '${location}'`, { details: { location } });
      const principal = await authorizeRoles(request, KEY_ADMIN_ROLES, { action: 'key_rotate' });
      const rotated = await rotateLocationKey(deps, principal.name, location);
      const job =
        request.query.rewrap === false
          ? null
          : await deps.jobs.submit(
              'rewrap',
              { location, principal: principal.name, key_id: rotated.activeKeyId },
              { dedupeKey: `rewrap:${location}`, ...(request.query.wait === true ? { waitMs: WAIT_MS } : {}) },
            );
      const finished = job === null || job.state === 'succeeded' || job.state === 'failed' || job.state === 'dead';
      return reply.status(finished ? 200 : 202).send({
        location,
        previous_key_id: rotated.previousKeyId,
        active_key_id: rotated.activeKeyId,
        job: job === null ? null : jobView(job),
      });
    },
  );
};

/**
 * Location keys (admin and system roles):
 *   GET  /keys                      every location's key ids and recipients (never a secret)
 *   POST /keys/{location}/rotate    new active key; re-wraps every object's header to it
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../../access/policy.ts';
import { rotateLocationKey, type RotationDeps } from '../../crypto/keys/rotation.ts';
import type { LocationKey } from '../../crypto/keys/port.ts';
import { MovingDataError } from '../../errors.ts';
import { BEARER_SECURITY, authorizeRoles } from '../auth.ts';

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
  rewrapped: Type.Integer(),
  unchanged: Type.Integer(),
  skipped: Type.Integer({ description: 'objects without a header to re-wrap (Fernet)' }),
  failed: Type.Array(Type.Object({ key: Type.String(), code: Type.String(), message: Type.String() })),
});

function summary(key: LocationKey): { id: string; format: 'age' | 'fernet'; recipient: string | null; can_decrypt: boolean } {
  return key.format === 'age'
    ? { id: key.id, format: 'age', recipient: key.recipient.toString(), can_decrypt: key.identity !== undefined }
    : { id: key.id, format: 'fernet', recipient: null, can_decrypt: true };
}

export const keyRoutes: FastifyPluginAsyncTypebox<RotationDeps> = async (app, deps) => {
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
        querystring: Type.Object({ rewrap: Type.Optional(Type.Boolean({ default: true, description: 're-wrap existing objects now (default true)' })) }),
        response: { 200: RotationResponse },
      },
    },
    async (request) => {
      const { location } = request.params;
      if (!deps.stores.has(location)) throw new MovingDataError('not_found', `no location named '${location}'`, { details: { location } });
      const principal = await authorizeRoles(request, KEY_ADMIN_ROLES, { action: 'key_rotate' });
      const report = await rotateLocationKey(deps, principal.name, location, { rewrap: request.query.rewrap ?? true });
      return {
        location: report.location,
        previous_key_id: report.previousKeyId,
        active_key_id: report.activeKeyId,
        rewrapped: report.rewrapped,
        unchanged: report.unchanged,
        skipped: report.skipped,
        failed: [...report.failed],
      };
    },
  );
};

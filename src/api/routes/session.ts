/**
 * Signing in to the dashboard, and who the caller is:
 *   POST   /session  {"token": "mdt_..."}: the token for a session cookie (see
 *                    src/api/session-cookie.ts) and the session's CSRF token
 *   GET    /session  whether this browser's cookie holds a live session (no authentication
 *                    needed: a page asks it first, so a signed-out visit is not an error)
 *   DELETE /session  sign out: the cookie is cleared (with the cookie, only with its CSRF token)
 *   GET    /me       the caller's name, roles, the locations it may read and write, and what
 *                    else its roles allow, so a client offers only that (any token or session)
 *
 * Demo mode's sign-in link (`/?token=...`) is served with the dashboard (src/api/static.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE, type AccessPolicy } from '../../access/policy.ts';
import { authenticateToken } from '../../access/principals.ts';
import { MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH } from '../../access/tokens.ts';
import { MovingDataError, isMovingDataError } from '../../errors.ts';
import type { MetadataStore, Principal } from '../../metadata/index.ts';
import { BEARER_SECURITY, requirePrincipal } from '../auth.ts';
import { CSRF_HEADER, clearedSessionCookie, csrfMatches, csrfToken, sessionCookie, sessionToken } from '../session-cookie.ts';
import { AUDITOR_ROLES } from './audit.ts';
import { OPERATOR_ROLES as CONSISTENCY_ROLES } from './consistency.ts';
import { OPERATOR_ROLES as STREAM_ROLES } from './stream.ts';

const ADMIN_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE]);
const SEED_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, SYSTEM_ROLE]);

const Role = Type.String();

export const SessionView = Type.Object({
  name: Type.String({ description: 'the principal signed in' }),
  roles: Type.Array(Role),
  csrf_token: Type.String({ description: `send it as the ${CSRF_HEADER} header with every POST, PUT and DELETE made with the session cookie` }),
});

export const SessionState = Type.Union([
  Type.Object({ signed_in: Type.Literal(true), name: Type.String(), roles: Type.Array(Role), csrf_token: Type.String() }),
  Type.Object({ signed_in: Type.Literal(false) }),
]);

export const MeView = Type.Object({
  name: Type.String(),
  roles: Type.Array(Role),
  authenticated_by: Type.Union([Type.Literal('bearer'), Type.Literal('cookie')]),
  csrf_token: Type.Union([Type.String(), Type.Null()], { description: `with the session cookie: its CSRF token (the ${CSRF_HEADER} header); null with a bearer token` }),
  locations: Type.Array(
    Type.Object({
      name: Type.String({ description: 'aws, azure, gcp, ...' }),
      provider: Type.String({ description: 's3, azure, gcs or local' }),
      read: Type.Boolean(),
      write: Type.Boolean(),
    }),
    { description: 'every configured location, and whether the caller may read and write objects there' },
  ),
  can: Type.Object(
    {
      view_operations: Type.Boolean({ description: 'alerts, streams, streaming metrics, drift status (admin, operations, system)' }),
      manage_tokens: Type.Boolean({ description: 'POST/GET/DELETE /tokens (admin)' }),
      seed: Type.Boolean({ description: 'POST /seed and /storage_test (admin, system)' }),
      audit: Type.Boolean({ description: 'GET /audit/verify and /audit/export (admin, system)' }),
    },
    { description: 'what the caller\'s roles allow beyond objects' },
  ),
});

export interface SessionRoutesOptions {
  readonly metadata: Pick<MetadataStore, 'principals'>;
  readonly policy: AccessPolicy;
  /** Each location's provider, by name. */
  readonly providers: ReadonlyMap<string, string>;
}

/** Start a session for the holder of `token` (or `unauthenticated`): the cookie is set on `reply`. */
export async function startSession(metadata: Pick<MetadataStore, 'principals'>, request: FastifyRequest, reply: FastifyReply, token: string): Promise<{ readonly principal: Principal; readonly csrfToken: string }> {
  const principal = await authenticateToken(metadata, token);
  void reply.header('set-cookie', sessionCookie(request, token)).header('cache-control', 'no-store');
  return { principal, csrfToken: csrfToken(token) };
}

function holds(principal: Principal, roles: readonly string[]): boolean {
  return principal.revokedAt === null && principal.roles.some((r) => roles.includes(r));
}

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, { metadata, policy, providers }) => {
  app.post(
    '/session',
    {
      schema: {
        tags: ['access'],
        summary: 'Sign in: exchange an API token for a session cookie (HttpOnly, SameSite=Strict) and its CSRF token',
        body: Type.Object(
          { token: Type.String({ minLength: MIN_TOKEN_LENGTH, maxLength: MAX_TOKEN_LENGTH, pattern: '^[A-Za-z0-9._~+/-]+=*$', description: 'an API token (mdt_...)' }) },
          { additionalProperties: false },
        ),
        response: { 200: SessionView },
      },
    },
    async (request, reply) => {
      const { principal, csrfToken: csrf } = await startSession(metadata, request, reply, request.body.token);
      return { name: principal.name, roles: [...principal.roles], csrf_token: csrf };
    },
  );

  app.get(
    '/session',
    {
      schema: {
        tags: ['access'],
        summary: "Whether the request's session cookie holds a live session, and its CSRF token (an Authorization header is not looked at)",
        response: { 200: SessionState },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      const token = sessionToken(request.headers.cookie);
      if (token === undefined) return { signed_in: false as const };
      try {
        const principal = await authenticateToken(metadata, token);
        return { signed_in: true as const, name: principal.name, roles: [...principal.roles], csrf_token: csrfToken(token) };
      } catch (err) {
        if (!isMovingDataError(err) || err.code !== 'unauthenticated') throw err;
        // A revoked or unknown token: the cookie goes too.
        void reply.header('set-cookie', clearedSessionCookie(request));
        return { signed_in: false as const };
      }
    },
  );

  app.delete(
    '/session',
    {
      schema: {
        tags: ['access'],
        summary: 'Sign out: clear the session cookie (with the cookie, send its x-csrf-token)',
        response: { 200: Type.Object({ signed_out: Type.Boolean({ description: 'always true: no session cookie is left' }) }) },
      },
    },
    async (request, reply) => {
      // Another site's page cannot sign a user out either (SameSite already stops it; this does without).
      const token = request.headers.authorization === undefined ? sessionToken(request.headers.cookie) : undefined;
      if (token !== undefined && !csrfMatches(token, request.headers[CSRF_HEADER])) {
        throw new MovingDataError('csrf_mismatch', `signing out with the session cookie needs its ${CSRF_HEADER} header`, { retryable: false });
      }
      void reply.header('set-cookie', clearedSessionCookie(request)).header('cache-control', 'no-store');
      return { signed_out: true };
    },
  );

  app.get(
    '/me',
    {
      config: { auth: true },
      schema: {
        tags: ['access'],
        summary: 'Who the caller is: name, roles, the locations it may read and write, what else its roles allow',
        security: [...BEARER_SECURITY],
        response: { 200: MeView },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      void reply.header('cache-control', 'no-store');
      return {
        name: principal.name,
        roles: [...principal.roles],
        authenticated_by: request.authenticatedBy === 'cookie' ? ('cookie' as const) : ('bearer' as const),
        csrf_token: request.csrfToken,
        locations: policy.locations.map((name) => {
          const allowed = policy.authorize(principal, name).allowed;
          return { name, provider: providers.get(name) ?? 'unknown', read: allowed, write: allowed };
        }),
        can: {
          view_operations: holds(principal, [...new Set([...STREAM_ROLES, ...CONSISTENCY_ROLES])]),
          manage_tokens: holds(principal, ADMIN_ROLES),
          seed: holds(principal, SEED_ROLES),
          audit: holds(principal, AUDITOR_ROLES),
        },
      };
    },
  );
};

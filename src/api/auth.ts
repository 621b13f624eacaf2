/**
 * Authentication and authorisation for the HTTP tier, as one Fastify plugin:
 *
 *   await app.register(authPlugin, { metadata, audit, policy });
 *   app.get('/files/:location/*', { config: { auth: true } }, async (request) => {
 *     const principal = await authorizeLocation(request, request.params.location);
 *     ...
 *   });
 *
 * Routes opt in with `config: { auth: true }`: the plugin's onRequest hook then requires
 * `Authorization: Bearer <token>` or, without that header, the dashboard's session cookie
 * (src/api/session-cookie.ts; a state-changing request made with the cookie also needs its
 * `x-csrf-token`, else 403 `csrf_mismatch`), answers 401 `unauthenticated` (with
 * `WWW-Authenticate: Bearer`) without either, and puts the live principal on `request.principal`. Handlers then ask
 * `authorizeLocation` (objects at a location) or `authorizeRoles` (admin operations): a denial
 * is recorded in the audit trail and becomes 403 `forbidden`.
 *
 * 401s are not audited: anyone can send them at no cost, so recording them would let a
 * stranger grow the tamper-evident log at will; they are in the request log. Denials of an
 * authenticated principal are audited.
 *
 * The plugin is registered without encapsulation (like fastify-plugin does), so its hook and
 * decorators apply to every route of the instance it is registered on.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, authenticateToken, type UnauthenticatedReason } from '../access/principals.ts';
import type { AccessPolicy, Decision } from '../access/policy.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { MovingDataError, isMovingDataError } from '../errors.ts';
import type { AuditAction, MetadataStore, Principal } from '../metadata/index.ts';
import { CSRF_HEADER, SAFE_METHODS, csrfMatches, csrfToken, sessionToken } from './session-cookie.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Require `Authorization: Bearer <token>` on this route (see src/api/auth.ts). */
    auth?: boolean;
    /** The paths this route serves when narrower than its URL pattern (for 405s: src/api/contract.ts). */
    pathPattern?: string;
  }
  interface FastifyRequest {
    /** The caller, on routes with `config: { auth: true }`; null on the others. */
    principal: Principal | null;
    /** How `principal` was authenticated: a bearer header, or the dashboard's session cookie. */
    authenticatedBy: 'bearer' | 'cookie' | null;
    /** The session's CSRF token, when the session cookie authenticated the request. */
    csrfToken: string | null;
  }
  interface FastifyInstance {
    /** What `authorizeLocation` and `authorizeRoles` decide with; set by `authPlugin`. */
    accessControl: AccessControl;
  }
}

export interface AccessControl {
  readonly policy: AccessPolicy;
  readonly audit: AuditTrail;
}

export interface AuthPluginOptions {
  readonly metadata: Pick<MetadataStore, 'principals'>;
  readonly audit: AuditTrail;
  readonly policy: AccessPolicy;
}

/** For the OpenAPI document: `components.securitySchemes.bearerAuth`. */
export const BEARER_SECURITY_SCHEME = Object.freeze({
  type: 'http',
  scheme: 'bearer',
  description: 'An API token (mdt_...) from POST /tokens or `movingdata tokens create`',
} as const);
/** For a route schema's `security`. */
export const BEARER_SECURITY: ReadonlyArray<Record<string, string[]>> = Object.freeze([{ bearerAuth: [] }]);

const REALM = 'movingdata';

/** RFC 6750: say which scheme to use, and what was wrong with what came. */
function challenge(reason: UnauthenticatedReason | undefined): string {
  switch (reason) {
    case 'malformed':
      return `Bearer realm="${REALM}", error="invalid_request"`;
    case 'invalid':
      return `Bearer realm="${REALM}", error="invalid_token"`;
    default:
      return `Bearer realm="${REALM}"`;
  }
}

function unauthenticatedReason(err: MovingDataError): UnauthenticatedReason | undefined {
  const reason = err.details?.['reason'];
  return reason === 'missing' || reason === 'malformed' || reason === 'invalid' ? reason : undefined;
}

const plugin: FastifyPluginAsync<AuthPluginOptions> = async (app, options) => {
  const accessControl: AccessControl = Object.freeze({ policy: options.policy, audit: options.audit });
  app.decorate('accessControl', accessControl);
  app.decorateRequest('principal', null);
  app.decorateRequest('authenticatedBy', null);
  app.decorateRequest('csrfToken', null);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.routeOptions.config.auth !== true) return;
    try {
      const cookie = request.headers.authorization === undefined ? sessionToken(request.headers.cookie) : undefined;
      if (cookie === undefined) {
        request.principal = await authenticate(options.metadata, request.headers.authorization);
        request.authenticatedBy = 'bearer';
        return;
      }
      // Checked before the token is looked up: a forged request costs no database round trip.
      if (!SAFE_METHODS.has(request.method) && !csrfMatches(cookie, request.headers[CSRF_HEADER])) {
        throw new MovingDataError('csrf_mismatch', `a request signed in by the session cookie that changes state must carry the session's ${CSRF_HEADER} header (from POST /session or GET /me)`, { retryable: false });
      }
      request.principal = await authenticateToken(options.metadata, cookie);
      request.authenticatedBy = 'cookie';
      request.csrfToken = csrfToken(cookie);
    } catch (err) {
      if (isMovingDataError(err) && err.code === 'unauthenticated') void reply.header('www-authenticate', challenge(unauthenticatedReason(err)));
      throw err;
    }
  });
};

// What fastify-plugin does: no encapsulation, so the hook and decorators reach sibling plugins.
export const authPlugin = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'movingdata-auth',
});

/** The caller; `unauthenticated` if the route did not opt in to auth (fails closed). */
export function requirePrincipal(request: FastifyRequest): Principal {
  if (request.principal === null) {
    throw new MovingDataError('unauthenticated', 'authentication required: send Authorization: Bearer <token> (or sign in: POST /session)', { retryable: false, details: { reason: 'missing' } });
  }
  return request.principal;
}

/** What a request attempts, for the audit entry of a denial. */
export interface Attempt {
  /** Default: from the method (GET/HEAD read, DELETE delete, others write). */
  readonly action?: AuditAction;
  readonly objectKey?: string;
}

function attemptedAction(request: FastifyRequest, attempt: Attempt): AuditAction {
  if (attempt.action !== undefined) return attempt.action;
  switch (request.method) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'DELETE':
      return 'delete';
    default:
      return 'write';
  }
}

async function enforce(request: FastifyRequest, principal: Principal, decision: Decision, location: string | null, attempt: Attempt): Promise<void> {
  if (decision.allowed) return;
  await request.server.accessControl.audit.denied({
    principal: principal.name,
    attempted: attemptedAction(request, attempt),
    reason: decision.reason,
    location,
    objectKey: attempt.objectKey ?? null,
    details: { method: request.method, route: request.routeOptions.url ?? request.url, request_id: request.id },
  });
  throw new MovingDataError('forbidden', decision.message, { retryable: false, details: { reason: decision.reason, ...(location === null ? {} : { location }) } });
}

/**
 * Allow the request's principal at `location`, or record the denial and throw `forbidden`.
 * Returns the principal, for the handler's own audit entry.
 */
export async function authorizeLocation(request: FastifyRequest, location: string, attempt: Attempt = {}): Promise<Principal> {
  const principal = requirePrincipal(request);
  await enforce(request, principal, request.server.accessControl.policy.authorize(principal, location), location, attempt);
  return principal;
}

/** Allow the request's principal if it holds one of `roles`, or record the denial and throw `forbidden`. */
export async function authorizeRoles(request: FastifyRequest, roles: readonly string[], attempt: Attempt = {}): Promise<Principal> {
  const principal = requirePrincipal(request);
  await enforce(request, principal, request.server.accessControl.policy.authorizeRoles(principal, roles), null, attempt);
  return principal;
}

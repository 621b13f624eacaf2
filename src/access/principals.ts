/**
 * Who is calling: from an `Authorization: Bearer <token>` header to a live principal, and the
 * demo admin whose token the operator chooses (`MOVINGDATA_ADMIN_TOKEN`).
 */
import { MovingDataError } from '../errors.ts';
import type { MetadataStore, Principal } from '../metadata/index.ts';
import { ADMIN_ROLE, SYSTEM_ROLE } from './policy.ts';
import { MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, constantTimeEqual, hashToken, isWellFormedToken } from './tokens.ts';

type Principals = Pick<MetadataStore, 'principals'>;

export const DEMO_ADMIN_NAME = 'admin';
export const DEMO_ADMIN_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, SYSTEM_ROLE]);

const BEARER = /^Bearer +(\S+) *$/i;

/** Why authentication failed, for logs and tests. Unknown and revoked are deliberately one reason. */
export type UnauthenticatedReason = 'missing' | 'malformed' | 'invalid';

function unauthenticated(reason: UnauthenticatedReason, message: string): MovingDataError {
  return new MovingDataError('unauthenticated', message, { retryable: false, details: { reason } });
}

/**
 * The live principal holding the bearer token in `authorization`, or `unauthenticated`:
 * - no header -> `missing`;
 * - not `Bearer <token>`, or a token that cannot be one of ours -> `malformed`;
 * - unknown or revoked token -> `invalid`, with one message for both, so a caller cannot learn
 *   that a token it found once was real.
 */
/** A last use recorded more recently than this is not touched again (the store's own throttle is 60 s). */
const TOUCH_SKIP_MS = 30_000;

export async function authenticate(metadata: Principals, authorization: string | undefined): Promise<Principal> {
  if (authorization === undefined || authorization.trim() === '') {
    throw unauthenticated('missing', 'authentication required: send Authorization: Bearer <token>');
  }
  const token = BEARER.exec(authorization)?.[1];
  if (token === undefined || !isWellFormedToken(token)) {
    throw unauthenticated('malformed', 'the Authorization header must be "Bearer <token>"');
  }
  return authenticateToken(metadata, token);
}

/**
 * The live principal holding `token` (from a bearer header, a session cookie or a sign-in
 * body), or `unauthenticated` (`malformed` or `invalid`, as for `authenticate`).
 */
export async function authenticateToken(metadata: Principals, token: string): Promise<Principal> {
  if (!isWellFormedToken(token)) throw unauthenticated('malformed', 'that is not an API token (mdt_...)');
  const principal = await metadata.principals.findByTokenHash(hashToken(token));
  if (principal === undefined) throw unauthenticated('invalid', 'the token is not valid (unknown or revoked)');
  // Last-use bookkeeping must not turn a working request into a failed one. The store writes at
  // most once a minute per principal; a use it recorded less than half that ago (by the
  // database's clock, read back with the principal) is not worth a round trip.
  // This process also remembers its own touches: between TOUCH_SKIP_MS and the store's throttle
  // the recorded time stays old, and every request would otherwise pay a no-op round trip.
  const touched = touchedAt(metadata);
  const recorded = Math.max(principal.lastUsedAt?.getTime() ?? 0, touched.get(principal.id) ?? 0);
  if (Date.now() - recorded > TOUCH_SKIP_MS) {
    touched.set(principal.id, Date.now());
    await metadata.principals.touch(principal.id).catch(() => undefined);
  }
  return principal;
}

/** When this process last touched each principal, per store. */
const touches = new WeakMap<object, Map<string, number>>();

function touchedAt(metadata: Principals): Map<string, number> {
  let map = touches.get(metadata.principals);
  if (map === undefined) {
    map = new Map();
    touches.set(metadata.principals, map);
  }
  return map;
}

export type DemoAdminAction = 'created' | 'updated' | 'unchanged';

/**
 * Make principal `admin` (roles admin and system) answer to exactly `token`: create it, or give
 * the existing one this token and these roles, reinstating it if it was revoked (the operator
 * who sets `MOVINGDATA_ADMIN_TOKEN` asks for a working admin). Demo mode only: the caller
 * decides that, and announces the result.
 */
export async function ensureDemoAdmin(metadata: Principals, token: string): Promise<{ readonly principal: Principal; readonly action: DemoAdminAction }> {
  if (!isWellFormedToken(token)) {
    throw new MovingDataError(
      'invalid_argument',
      `the admin token must be ${MIN_TOKEN_LENGTH}-${MAX_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (a random one, e.g. from 'openssl rand -base64 32')`,
      { retryable: false },
    );
  }
  const tokenHash = hashToken(token);
  // Two processes starting at once (PostgreSQL): the loser of the create race updates instead.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const existing = await metadata.principals.findByName(DEMO_ADMIN_NAME);
    if (existing === undefined) {
      try {
        const principal = await metadata.principals.create({ name: DEMO_ADMIN_NAME, roles: DEMO_ADMIN_ROLES, tokenHash });
        return { principal, action: 'created' };
      } catch (err) {
        if (err instanceof MovingDataError && err.code === 'conflict') continue;
        throw err;
      }
    }
    const sameRoles = [...DEMO_ADMIN_ROLES].sort().join(',') === [...existing.roles].sort().join(',');
    if (constantTimeEqual(existing.tokenHash, tokenHash) && sameRoles && existing.revokedAt === null) {
      return { principal: existing, action: 'unchanged' };
    }
    const principal = await metadata.principals.update(DEMO_ADMIN_NAME, { tokenHash, roles: DEMO_ADMIN_ROLES, reinstate: true });
    return { principal, action: 'updated' };
  }
  throw new MovingDataError('conflict', 'could not set up the demo admin: principal admin keeps changing; try again', { retryable: true });
}

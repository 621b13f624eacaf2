/**
 * API tokens over HTTP, for the admin role only:
 * - POST /tokens: a new principal with roles; the token is in this response and nowhere else
 *   (only its SHA-256 is stored);
 * - GET /tokens: names, roles and dates (never a token or its hash);
 * - DELETE /tokens/{name}: revoke (idempotent; the name stays taken).
 *
 * Granting `system` (allowed at every location whatever the configuration) needs `system`
 * oneself: otherwise an admin whose role a location no longer allows could mint a way back in.
 *
 * Each change is recorded before it is made, so a change the audit trail cannot record does
 * not happen; a creation that then fails gets a second entry with outcome `error`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../../access/policy.ts';
import { generateToken, hashToken } from '../../access/tokens.ts';
import type { AuditTrail } from '../../audit/audit-trail.ts';
import { MovingDataError, isMovingDataError } from '../../errors.ts';
import type { MetadataStore, Principal } from '../../metadata/index.ts';
import { BEARER_SECURITY, authorizeRoles } from '../auth.ts';

const TOKEN_ADMIN_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE]);

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$', description: 'letters, digits, . _ @ -; unique forever' });
const Role = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' });
const Timestamp = Type.String({ format: 'date-time' });

const TokenSummary = Type.Object({
  name: Name,
  roles: Type.Array(Role),
  created_at: Timestamp,
  revoked_at: Type.Union([Timestamp, Type.Null()]),
  last_used_at: Type.Union([Timestamp, Type.Null()], { description: 'to within a minute' }),
});
type TokenSummary = Static<typeof TokenSummary>;

const CreateTokenBody = Type.Object(
  {
    name: Name,
    roles: Type.Array(Role, { minItems: 1, maxItems: 64, description: 'e.g. analytics (aws), operations (azure), compliance (gcp), admin' }),
  },
  { additionalProperties: false },
);

const CreatedToken = Type.Object({
  name: Name,
  roles: Type.Array(Role),
  created_at: Timestamp,
  token: Type.String({ description: 'shown once: store it now' }),
});

export interface TokenRoutesOptions {
  readonly metadata: Pick<MetadataStore, 'principals'>;
  readonly audit: AuditTrail;
}

function summary(principal: Principal): TokenSummary {
  return {
    name: principal.name,
    roles: [...principal.roles],
    created_at: principal.createdAt.toISOString(),
    revoked_at: principal.revokedAt?.toISOString() ?? null,
    last_used_at: principal.lastUsedAt?.toISOString() ?? null,
  };
}

export const tokenRoutes: FastifyPluginAsyncTypebox<TokenRoutesOptions> = async (app, { metadata, audit }) => {
  app.post(
    '/tokens',
    {
      config: { auth: true },
      schema: {
        tags: ['access'],
        summary: 'Issue an API token with roles (admin)',
        security: [...BEARER_SECURITY],
        body: CreateTokenBody,
        response: { 201: CreatedToken },
      },
    },
    async (request, reply) => {
      const { name, roles } = request.body;
      const caller = await authorizeRoles(request, TOKEN_ADMIN_ROLES, { action: 'token_create' });
      if (roles.includes(SYSTEM_ROLE) && !caller.roles.includes(SYSTEM_ROLE)) {
        await audit.denied({ principal: caller.name, attempted: 'token_create', reason: 'cannot_grant_system', details: { name } });
        throw new MovingDataError('forbidden', `only a principal with the ${SYSTEM_ROLE} role may grant it`, { retryable: false, details: { reason: 'cannot_grant_system' } });
      }
      if ((await metadata.principals.findByName(name)) !== undefined) {
        throw new MovingDataError('conflict', `a principal named ${JSON.stringify(name)} already exists (names of revoked principals stay taken)`, { retryable: false, details: { name } });
      }
      await audit.tokenCreated({ principal: caller.name, name, roles });
      const token = generateToken();
      let created: Principal;
      try {
        created = await metadata.principals.create({ name, roles, tokenHash: hashToken(token) });
      } catch (err) {
        // Best effort: the trail already says it was allowed; say it did not happen.
        await audit
          .record({ principal: caller.name, action: 'token_create', outcome: 'error', details: { name, code: isMovingDataError(err) ? err.code : 'internal' } })
          .catch(() => undefined);
        throw err;
      }
      void reply.header('cache-control', 'no-store');
      return reply.status(201).send({ name: created.name, roles: [...created.roles], created_at: created.createdAt.toISOString(), token });
    },
  );

  app.get(
    '/tokens',
    {
      config: { auth: true },
      schema: {
        tags: ['access'],
        summary: 'List API tokens: names, roles and dates (admin)',
        security: [...BEARER_SECURITY],
        response: { 200: Type.Object({ tokens: Type.Array(TokenSummary) }) },
      },
    },
    async (request) => {
      await authorizeRoles(request, TOKEN_ADMIN_ROLES, { action: 'token_list' });
      return { tokens: (await metadata.principals.list()).map(summary) };
    },
  );

  app.delete(
    '/tokens/:name',
    {
      config: { auth: true },
      schema: {
        tags: ['access'],
        summary: 'Revoke an API token (admin)',
        security: [...BEARER_SECURITY],
        params: Type.Object({ name: Name }),
        response: { 200: TokenSummary },
      },
    },
    async (request) => {
      const { name } = request.params;
      const caller = await authorizeRoles(request, TOKEN_ADMIN_ROLES, { action: 'token_revoke' });
      const existing = await metadata.principals.findByName(name);
      if (existing === undefined) throw new MovingDataError('not_found', `no token named ${JSON.stringify(name)}`, { retryable: false, details: { name } });
      if (existing.revokedAt !== null) return summary(existing);
      // Revoking the last admin would lock everyone out of token management for good. Checked
      // here first (a clear refusal, before anything is recorded), then again by the store
      // atomically with the revocation: of two concurrent revokes of the last two admins, one
      // wins and the other is refused.
      if (existing.roles.includes(ADMIN_ROLE)) {
        const admins = (await metadata.principals.list()).filter((p) => p.revokedAt === null && p.roles.includes(ADMIN_ROLE));
        if (admins.length <= 1) {
          throw new MovingDataError('conflict', `${JSON.stringify(name)} is the last admin token; create another admin token before revoking it`, { details: { name } });
        }
      }
      await audit.tokenRevoked({ principal: caller.name, name });
      return summary(await metadata.principals.revoke(name, { keepOne: ADMIN_ROLE }));
    },
  );
};

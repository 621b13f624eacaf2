/**
 * The audit trail over HTTP, for the admin and system roles only:
 * - GET /audit/verify: recompute the hash chain; 200 with `ok: false` and the first problem
 *   when it is broken (the check worked; what it found is the answer);
 * - GET /audit/export: every entry as JSON lines (`application/x-ndjson`), streamed a page at
 *   a time from the database, so memory stays flat for any log length. `?after_seq=N`
 *   resumes after entry N. The export is itself recorded (it reveals every entry).
 *
 * A line is the hash chain's record (src/metadata/audit-chain.ts): drop `prev_hash` and
 * `hash`, canonicalise (RFC 8785), and SHA-256 of prev_hash followed by that text is `hash`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../../access/policy.ts';
import type { AuditTrail } from '../../audit/audit-trail.ts';
import { BEARER_SECURITY, authorizeRoles } from '../auth.ts';

export const AUDITOR_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, SYSTEM_ROLE]);

const Head = Type.Object({ seq: Type.Integer(), hash: Type.String({ pattern: '^[0-9a-f]{64}$' }) });

export const AuditVerifyResponse = Type.Object({
  ok: Type.Boolean({ description: 'true when every link of the chain checks out' }),
  entries: Type.Integer({ description: 'entries found intact (before the problem, if any)' }),
  head: Type.Union([Head, Type.Null()], {
    description: 'the last intact entry; record it outside MovingData: a cut-off tail or a rewrite up to the end is only visible against an earlier head',
  }),
  problem: Type.Optional(
    Type.Object({
      seq: Type.Integer(),
      kind: Type.Union([Type.Literal('edited'), Type.Literal('deleted_or_inserted'), Type.Literal('reordered')]),
      message: Type.String(),
    }),
  ),
});

const ExportQuery = Type.Object({
  after_seq: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'only entries after this seq' })),
});

export interface AuditRoutesOptions {
  readonly audit: AuditTrail;
}

export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (app, { audit }) => {
  app.get(
    '/audit/verify',
    {
      config: { auth: true },
      schema: {
        tags: ['audit'],
        summary: 'Verify the hash chain of the audit trail',
        security: [...BEARER_SECURITY],
        response: { 200: AuditVerifyResponse },
      },
    },
    async (request) => {
      await authorizeRoles(request, AUDITOR_ROLES, { action: 'audit_verify' });
      const result = await audit.verify();
      return {
        ok: result.ok,
        entries: result.entries,
        head: result.head,
        ...(result.problem === undefined ? {} : { problem: result.problem }),
      };
    },
  );

  app.get(
    '/audit/export',
    {
      config: { auth: true },
      schema: {
        tags: ['audit'],
        summary: 'Export the audit trail as JSON lines',
        description: 'One entry per line, in seq order, streamed. Each line: seq, at, principal, action, location, object_key, key_id, sha256, outcome, details, prev_hash, hash.',
        security: [...BEARER_SECURITY],
        querystring: ExportQuery,
        produces: ['application/x-ndjson'],
      },
    },
    async (request, reply) => {
      const principal = await authorizeRoles(request, AUDITOR_ROLES, { action: 'audit_export' });
      const afterSeq = request.query.after_seq ?? 0;
      // Recorded before the first line leaves: an export that cannot be recorded does not happen.
      await audit.exported({ principal: principal.name, afterSeq });
      return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(audit.exportStream({ afterSeq }));
    },
  );
};

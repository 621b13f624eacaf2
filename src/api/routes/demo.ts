/**
 * The seed's workflow endpoints, same paths:
 *   POST /seed          demo files file_001.txt … across the three locations, with metadata
 *   POST /storage_test  a probe per provider: write, replicate to the others, verify, remove
 * Both need the admin or system role.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ADMIN_ROLE, SYSTEM_ROLE } from '../../access/policy.ts';
import { seedDemoFiles } from '../../demo/seed.ts';
import { storageTest } from '../../demo/storage-test.ts';
import type { MetadataStore } from '../../metadata/index.ts';
import type { Replicator } from '../../replication/replicator.ts';
import { BEARER_SECURITY, authorizeRoles } from '../auth.ts';

const OPERATOR_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, SYSTEM_ROLE]);

const Timing = Type.Union([Type.Number(), Type.Null()]);

export interface DemoRoutesOptions {
  readonly metadata: MetadataStore;
  readonly replicator: Replicator;
}

export const demoRoutes: FastifyPluginAsyncTypebox<DemoRoutesOptions> = async (app, deps) => {
  app.post(
    '/seed',
    {
      config: { auth: true },
      schema: {
        tags: ['operations'],
        summary: 'Populate demo files (file_001.txt, …) across the locations, with baseline metadata',
        security: [...BEARER_SECURITY],
        body: Type.Optional(Type.Object({ count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 12, description: 'files to create (at most 100: a demo, not a load generator)' })) }, { additionalProperties: false })),
        response: {
          200: Type.Object({
            created: Type.Array(Type.Object({ key: Type.String(), location: Type.String(), size: Type.Integer(), sha256: Type.String() })),
            skipped: Type.Array(Type.String()),
          }),
        },
      },
    },
    async (request) => {
      const principal = await authorizeRoles(request, OPERATOR_ROLES, { action: 'seed' });
      const result = await seedDemoFiles(deps, { count: request.body?.count ?? 12, principal: principal.name });
      return { created: [...result.created], skipped: [...result.skipped] };
    },
  );

  app.post(
    '/storage_test',
    {
      config: { auth: true },
      schema: {
        tags: ['operations'],
        summary: 'Write a probe to each provider, replicate it, verify the checksums; pass/fail and latency per provider',
        security: [...BEARER_SECURITY],
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            providers: Type.Array(
              Type.Object({
                location: Type.String(),
                provider: Type.String(),
                ok: Type.Boolean(),
                write_ms: Timing,
                replicate_ms: Timing,
                verify_ms: Timing,
                replicated_to: Type.Array(Type.String()),
                error: Type.Union([Type.Object({ step: Type.String(), code: Type.String(), message: Type.String() }), Type.Null()]),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const principal = await authorizeRoles(request, OPERATOR_ROLES, { action: 'storage_test' });
      const providers = await storageTest(deps, principal.name);
      return { ok: providers.every((p) => p.ok), providers: providers.map((p) => ({ ...p, replicated_to: [...p.replicated_to] })) };
    },
  );
};

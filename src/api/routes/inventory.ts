/**
 * GET /files — the inventory: every file with its current version and, per location, its
 * replica's state, size, checksums and tier. Keyset-paginated (`cursor`), filterable by key
 * prefix, location and replica state. A caller sees the replicas at locations its roles allow
 * (admin and system see all); files with no visible replica are left out.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AccessPolicy } from '../../access/policy.ts';
import { REPLICA_STATES, type InventoryEntry, type MetadataStore, type Replica } from '../../metadata/index.ts';
import { BEARER_SECURITY, requirePrincipal } from '../auth.ts';

const ReplicaView = Type.Object({
  location: Type.String(),
  state: Type.String({ description: REPLICA_STATES.join(' | ') }),
  object_key: Type.String(),
  stored_size: Type.Union([Type.Integer(), Type.Null()]),
  checksums: Type.Record(Type.String(), Type.String()),
  tier: Type.Union([Type.String(), Type.Null()]),
  key_id: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer(),
  last_error: Type.Union([Type.String(), Type.Null()]),
  verified_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const InventoryItem = Type.Object({
  key: Type.String(),
  content_type: Type.Union([Type.String(), Type.Null()]),
  version: Type.Union([Type.Integer(), Type.Null()]),
  size: Type.Union([Type.Integer(), Type.Null()]),
  sha256: Type.Union([Type.String(), Type.Null()]),
  written_by: Type.Union([Type.String(), Type.Null()]),
  updated_at: Type.String({ format: 'date-time' }),
  replicas: Type.Array(ReplicaView),
});
type InventoryItem = Static<typeof InventoryItem>;

const Query = Type.Object({
  prefix: Type.Optional(Type.String({ maxLength: 1024 })),
  location: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' })),
  state: Type.Optional(Type.Union(REPLICA_STATES.map((s) => Type.Literal(s)))),
  cursor: Type.Optional(Type.String({ maxLength: 4096 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

function replicaView(replica: Replica): Static<typeof ReplicaView> {
  return {
    location: replica.location,
    state: replica.state,
    object_key: replica.objectKey,
    stored_size: replica.storedSize,
    checksums: Object.fromEntries(Object.entries(replica.checksums).filter((e): e is [string, string] => e[1] !== undefined)),
    tier: replica.tier,
    key_id: replica.encryption?.keyIds[0] ?? null,
    attempts: replica.attempts,
    last_error: replica.lastError,
    verified_at: replica.verifiedAt?.toISOString() ?? null,
  };
}

export function inventoryItem(entry: InventoryEntry, visible: (replica: Replica) => boolean = () => true): InventoryItem {
  return {
    key: entry.file.key,
    content_type: entry.file.contentType,
    version: entry.current?.version ?? null,
    size: entry.current?.size ?? null,
    sha256: entry.current?.sha256 ?? null,
    written_by: entry.current?.writtenBy ?? null,
    updated_at: entry.file.updatedAt.toISOString(),
    replicas: entry.replicas.filter(visible).map(replicaView),
  };
}

export interface InventoryRoutesOptions {
  readonly metadata: MetadataStore;
  readonly policy: AccessPolicy;
}

export const inventoryRoutes: FastifyPluginAsyncTypebox<InventoryRoutesOptions> = async (app, { metadata, policy }) => {
  app.get(
    '/files',
    {
      config: { auth: true },
      schema: {
        tags: ['files'],
        summary: 'Inventory: files, current versions, and their replicas per location',
        security: [...BEARER_SECURITY],
        querystring: Query,
        response: { 200: Type.Object({ items: Type.Array(InventoryItem), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { prefix, location, state, cursor, limit } = request.query;
      const page = await metadata.listInventory({
        ...(prefix === undefined ? {} : { prefix }),
        ...(location === undefined ? {} : { location }),
        ...(state === undefined ? {} : { replicaStates: [state] }),
        ...(cursor === undefined ? {} : { cursor }),
        limit: limit ?? 100,
      });
      const allowed = new Map<string, boolean>();
      const visible = (replica: Replica): boolean => {
        let ok = allowed.get(replica.location);
        if (ok === undefined) {
          ok = policy.authorize(principal, replica.location).allowed;
          allowed.set(replica.location, ok);
        }
        return ok;
      };
      const items = page.items.map((entry) => inventoryItem(entry, visible)).filter((item) => item.replicas.length > 0);
      return { items, next_cursor: page.nextCursor ?? null };
    },
  );
};

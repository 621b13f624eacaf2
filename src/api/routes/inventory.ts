/**
 * GET /inventory — per location the caller may read: live copies and their bytes, by state
 * and by tier (one grouped query, whatever the number of files).
 *
 * GET /files — the inventory: every file and, per location, the copy that location holds: its
 * own version, SHA-256, state, size, checksums and tier, and whether it is stale (another
 * location the caller sees holds a newer version). Keyset-paginated (`cursor`), filterable by
 * key prefix, location and replica state.
 *
 * A caller sees the copies at locations its roles allow (admin and system see all), and nothing
 * else: files with no visible copy are filtered out before paging, so neither the items nor the
 * cursor carry a key, version or size of another location. The file-level fields are those of
 * the newest version the caller can see.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AccessPolicy } from '../../access/policy.ts';
import { REPLICA_STATES, type FileVersion, type InventoryEntry, type InventorySummaryRow, type MetadataStore, type Replica } from '../../metadata/index.ts';
import { BEARER_SECURITY, requirePrincipal } from '../auth.ts';

const ReplicaView = Type.Object({
  location: Type.String(),
  version: Type.Integer({ description: 'the version this location holds' }),
  sha256: Type.Union([Type.String(), Type.Null()], { description: "that version's plaintext SHA-256 (the ETag a GET there answers with)" }),
  size: Type.Union([Type.Integer(), Type.Null()], { description: "that version's plaintext bytes" }),
  stale: Type.Boolean({ description: 'another location you can see holds a newer version' }),
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

function replicaView(replica: Replica, version: FileVersion | undefined, newest: number): Static<typeof ReplicaView> {
  return {
    location: replica.location,
    version: replica.version,
    sha256: version?.sha256 ?? null,
    size: version?.size ?? null,
    stale: replica.version < newest,
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

/**
 * An inventory entry as a caller sees it: the listing already holds only the caller's copies
 * (see `locations` in the query), and the file-level fields are the newest version among them.
 */
export function inventoryItem(entry: InventoryEntry): InventoryItem {
  const replicas = entry.replicas;
  const byNumber = new Map(entry.versions.map((v) => [v.version, v]));
  const newest = replicas.reduce((max, r) => Math.max(max, r.version), 0);
  const shown = byNumber.get(newest);
  return {
    key: entry.file.key,
    content_type: shown?.contentType ?? entry.file.contentType,
    version: shown?.version ?? null,
    size: shown?.size ?? null,
    sha256: shown?.sha256 ?? null,
    written_by: shown?.writtenBy ?? null,
    updated_at: (shown?.updatedAt ?? entry.file.updatedAt).toISOString(),
    replicas: replicas.map((r) => replicaView(r, byNumber.get(r.version), newest)),
  };
}

const Tally = Type.Object({ objects: Type.Integer(), bytes: Type.Integer() });
const LocationSummary = Type.Object({
  location: Type.String(),
  objects: Type.Integer({ description: 'live copies at this location' }),
  bytes: Type.Integer({ description: 'plaintext bytes of those copies' }),
  stored_bytes: Type.Integer({ description: 'bytes as stored (encrypted), where recorded' }),
  by_state: Type.Record(Type.String(), Tally, { description: REPLICA_STATES.filter((s) => s !== 'deleted').join(' | ') }),
  by_tier: Type.Record(Type.String(), Tally, { description: 'by storage tier; "default" where none was set' }),
});
export const InventorySummary = Type.Object({ locations: Type.Array(LocationSummary, { description: 'every location the caller may read, in configuration order' }) });
type LocationSummary = Static<typeof LocationSummary>;

/** Rows of `summarizeInventory` folded into one entry per location (zero where it holds nothing). */
export function summarizeLocations(locations: readonly string[], rows: readonly InventorySummaryRow[]): LocationSummary[] {
  return locations.map((location) => {
    const summary: LocationSummary = { location, objects: 0, bytes: 0, stored_bytes: 0, by_state: {}, by_tier: {} };
    for (const row of rows) {
      if (row.location !== location) continue;
      summary.objects += row.objects;
      summary.bytes += row.bytes;
      summary.stored_bytes += row.storedBytes;
      const state = (summary.by_state[row.state] ??= { objects: 0, bytes: 0 });
      state.objects += row.objects;
      state.bytes += row.bytes;
      const tier = (summary.by_tier[row.tier ?? 'default'] ??= { objects: 0, bytes: 0 });
      tier.objects += row.objects;
      tier.bytes += row.bytes;
    }
    return summary;
  });
}

export interface InventoryRoutesOptions {
  readonly metadata: MetadataStore;
  readonly policy: AccessPolicy;
}

export const inventoryRoutes: FastifyPluginAsyncTypebox<InventoryRoutesOptions> = async (app, { metadata, policy }) => {
  app.get(
    '/inventory',
    {
      config: { auth: true },
      schema: {
        tags: ['files'],
        summary: 'Per location you may read: live copies and bytes, by replica state and by tier',
        security: [...BEARER_SECURITY],
        response: { 200: InventorySummary },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const locations = policy.locations.filter((l) => policy.authorize(principal, l).allowed);
      const rows = locations.length === 0 ? [] : await metadata.summarizeInventory({ locations });
      return { locations: summarizeLocations(locations, rows) };
    },
  );

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
      // The caller's locations bound the listing itself, before paging (see the header).
      const locations = policy.locations.filter((l) => policy.authorize(principal, l).allowed);
      const page = await metadata.listInventory({
        ...(prefix === undefined ? {} : { prefix }),
        ...(location === undefined ? {} : { location }),
        ...(state === undefined ? {} : { replicaStates: [state] }),
        ...(cursor === undefined ? {} : { cursor }),
        locations,
        limit: limit ?? 100,
      });
      const items = page.items.map((entry) => inventoryItem(entry)).filter((item) => item.replicas.length > 0);
      return { items, next_cursor: page.nextCursor ?? null };
    },
  );
};

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
 *
 * The dashboard's Inventory page reads it with `sort` (key, size, updated_at) and `order`, `q`
 * (a key substring, ASCII case ignored) and `tier` (our tier class, matched per location through
 * its store's tier names); each item carries what its copies cost a month now (storage, from
 * the location's provider price table), the latest tiering decision per copy (stored by the
 * tiering runs: nothing is predicted per request), the encryption format and derived alerts.
 *
 * GET /inventory/files/{location}/{key} — one file as the caller sees it: its versions held at
 * the caller's locations, every copy with checksums, the key's audit entries, its access per
 * day and its tiering decisions. Authorised on `location` before anything is looked up.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AccessPolicy } from '../../access/policy.ts';
import { MovingDataError } from '../../errors.ts';
import { INVENTORY_SORTS, REPLICA_STATES, type FileVersion, type InventoryEntry, type InventorySummaryRow, type MetadataStore, type Replica, type TierDecision } from '../../metadata/index.ts';
import type { TierClass } from '../../storage/port.ts';
import { storageCostPerMonth } from '../../tiering/cost.ts';
import type { LocationPricing } from '../../tiering/location-pricing.ts';
import { TIER_CLASSES, classForTier } from '../../tiering/prices.ts';
import { BEARER_SECURITY, authorizeLocation, requirePrincipal } from '../auth.ts';
import { DecisionView, decisionView } from './tiering.ts';

const Recommendation = Type.Object({
  tier: Type.String({ description: 'the recommended tier (hot | cool | cold | archive)' }),
  confidence: Type.Number({ description: "the model's probability for its proposal (1: the cost rule alone)" }),
  change: Type.String({ description: 'tier (in place) | move (to to_location)' }),
  to_location: Type.String(),
  state: Type.String({ description: 'dry_run | queued | applied | failed' }),
  expected_monthly_saving: Type.Number(),
  decided_at: Type.String({ format: 'date-time' }),
});

const FileAlert = Type.Object({
  kind: Type.String({ description: 'failed | stale | unverified | retrying' }),
  location: Type.String(),
  message: Type.String(),
});

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
  encryption: Type.Union([Type.String(), Type.Null()], { description: 'age | fernet | none: how this copy is sealed' }),
  tier_class: Type.Union([Type.String(), Type.Null()], { description: 'hot | cool | cold | archive: our tier of the copy (null: a location not priced)' }),
  monthly_cost_usd: Type.Union([Type.Number(), Type.Null()], { description: "storage a month now at the location's provider prices (null: not priced)" }),
  recommendation: Type.Union([Recommendation, Type.Null()], { description: "the latest tiering decision for this copy, if a tiering run made one" }),
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
  monthly_cost_usd: Type.Number({ description: 'what the copies you see cost a month now, together (storage)' }),
  alerts: Type.Array(FileAlert, { description: 'what needs attention in the copies you see' }),
});
type InventoryItem = Static<typeof InventoryItem>;
type ReplicaViewValue = Static<typeof ReplicaView>;

const Query = Type.Object({
  prefix: Type.Optional(Type.String({ maxLength: 1024 })),
  location: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' })),
  state: Type.Optional(Type.Union(REPLICA_STATES.map((s) => Type.Literal(s)))),
  tier: Type.Optional(Type.Union(TIER_CLASSES.map((t) => Type.Literal(t)), { description: 'only files with a copy in this tier' })),
  q: Type.Optional(Type.String({ maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description: 'only keys containing this (ASCII case ignored)' })),
  sort: Type.Optional(Type.Union(INVENTORY_SORTS.map((s) => Type.Literal(s)), { description: 'key (default) | size (the current version\'s) | updated_at (last change)' })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'asc (default) | desc' })),
  cursor: Type.Optional(Type.String({ maxLength: 4096, description: 'next_cursor of the previous page, with the same filters, sort and order' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

/** What the route knows beyond the listing: prices per location, stored decisions. */
export interface InventoryPricing {
  pricing(location: string): LocationPricing;
}

function pricingOf(prices: InventoryPricing | undefined, location: string): LocationPricing | undefined {
  try {
    return prices?.pricing(location);
  } catch {
    return undefined;
  }
}

function recommendationView(d: TierDecision): Static<typeof Recommendation> {
  return { tier: d.toTier, confidence: d.confidence, change: d.kind, to_location: d.toLocation, state: d.state, expected_monthly_saving: d.expectedMonthlySaving, decided_at: d.createdAt.toISOString() };
}

/** The copy's tier class and storage cost a month now (what it is billed for: the stored bytes where recorded). */
export function copyCost(pricing: LocationPricing | undefined, tier: string | null, bytes: number | null): { tierClass: TierClass | null; monthly: number | null } {
  if (pricing === undefined) return { tierClass: null, monthly: null };
  const tierClass = pricing.tierOf(tier);
  if (bytes === null) return { tierClass, monthly: null };
  return { tierClass, monthly: storageCostPerMonth(bytes, classForTier(pricing.table, tierClass)) };
}

function replicaView(replica: Replica, version: FileVersion | undefined, newest: number, extra: { pricing?: LocationPricing | undefined; decision?: TierDecision | undefined } = {}): ReplicaViewValue {
  const cost = copyCost(extra.pricing, replica.tier, replica.storedSize ?? version?.size ?? null);
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
    encryption: replica.encryption?.format ?? version?.encryption.format ?? null,
    tier_class: cost.tierClass,
    monthly_cost_usd: cost.monthly,
    recommendation: extra.decision === undefined ? null : recommendationView(extra.decision),
  };
}

/** What needs attention in the copies shown. */
export function fileAlerts(replicas: readonly ReplicaViewValue[]): Array<Static<typeof FileAlert>> {
  const alerts: Array<Static<typeof FileAlert>> = [];
  for (const r of replicas) {
    if (r.state === 'failed') alerts.push({ kind: 'failed', location: r.location, message: `the copy at ${r.location} failed${r.last_error === null ? '' : `: ${r.last_error}`}` });
    else if (r.state === 'pending' || r.state === 'writing') alerts.push({ kind: r.attempts > 0 ? 'retrying' : 'unverified', location: r.location, message: r.attempts > 0 ? `the copy at ${r.location} is being retried (${r.attempts} attempts)` : `the copy at ${r.location} is not verified yet (${r.state})` });
    if (r.stale) alerts.push({ kind: 'stale', location: r.location, message: `${r.location} holds version ${r.version}, an older one` });
  }
  return alerts;
}

/**
 * An inventory entry as a caller sees it: the listing already holds only the caller's copies
 * (see `locations` in the query), and the file-level fields are the newest version among them.
 */
export function inventoryItem(entry: InventoryEntry, extra: { prices?: InventoryPricing | undefined; decisions?: ReadonlyMap<string, TierDecision> } = {}): InventoryItem {
  const replicas = entry.replicas;
  const byNumber = new Map(entry.versions.map((v) => [v.version, v]));
  const newest = replicas.reduce((max, r) => Math.max(max, r.version), 0);
  const shown = byNumber.get(newest);
  const views = replicas.map((r) => {
    const decision = extra.decisions?.get(decisionKey(r.location, entry.file.key));
    return replicaView(r, byNumber.get(r.version), newest, { pricing: pricingOf(extra.prices, r.location), decision: decision?.fileId === entry.file.id ? decision : undefined });
  });
  return {
    key: entry.file.key,
    content_type: shown?.contentType ?? entry.file.contentType,
    version: shown?.version ?? null,
    size: shown?.size ?? null,
    sha256: shown?.sha256 ?? null,
    written_by: shown?.writtenBy ?? null,
    updated_at: (shown?.updatedAt ?? entry.file.updatedAt).toISOString(),
    replicas: views,
    monthly_cost_usd: views.reduce((sum, r) => sum + (r.monthly_cost_usd ?? 0), 0),
    alerts: fileAlerts(views),
  };
}

/** Decisions by `location\n key`, keeping only those about this very file (a key may be reused). */
const decisionKey = (location: string, key: string): string => `${location}\n${key}`;

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
  /** Prices per location (the tiering service): costs and tier classes. Without it, none are shown. */
  readonly prices?: InventoryPricing;
}

/** The store tier names (null: none recorded) that mean `tier` at `location`. */
export function tierNames(pricing: LocationPricing | undefined, tier: TierClass): Array<string | null> {
  if (pricing === undefined) return [];
  const candidates = new Set<string>([pricing.nativeName(tier), pricing.table.tiers[tier]].filter((n): n is string => n !== undefined));
  const names: Array<string | null> = [...candidates].filter((n) => pricing.tierOf(n) === tier);
  if (pricing.tierOf(null) === tier) names.push(null);
  return names;
}

const ListResponse = Type.Object({ items: Type.Array(InventoryItem), next_cursor: Type.Union([Type.String(), Type.Null()]) });

const DetailParams = Type.Object({
  location: Type.String({ description: 'a location you may read', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' }),
  '*': Type.String({ description: 'the file key (the rest of the path, percent-encoded as needed)', minLength: 1, maxLength: 1024, pattern: '^[^\\u0000-\\u001f\\u007f]+$' }),
});

const VersionView = Type.Object({
  version: Type.Integer(),
  state: Type.String({ description: 'pending | committed | failed | deleted' }),
  size: Type.Union([Type.Integer(), Type.Null()]),
  sha256: Type.Union([Type.String(), Type.Null()]),
  encryption: Type.String({ description: 'age | fernet | none' }),
  content_type: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Record(Type.String(), Type.String()),
  written_by: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  current: Type.Boolean({ description: 'the newest version you can see' }),
});

const CopyHistory = Type.Object({
  location: Type.String(),
  version: Type.Integer(),
  state: Type.String(),
  object_key: Type.String(),
  checksums: Type.Record(Type.String(), Type.String()),
  key_id: Type.Union([Type.String(), Type.Null()]),
  updated_at: Type.String({ format: 'date-time' }),
});

const AuditView = Type.Object({
  seq: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  principal: Type.String(),
  action: Type.String(),
  location: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String(),
  sha256: Type.Union([Type.String(), Type.Null()]),
  key_id: Type.Union([Type.String(), Type.Null()]),
});

const AccessDayView = Type.Object({
  day: Type.String({ format: 'date' }),
  reads: Type.Integer(),
  writes: Type.Integer(),
  deletes: Type.Integer(),
  bytes_read: Type.Integer(),
  bytes_written: Type.Integer(),
});

const AccessView = Type.Object({
  location: Type.String(),
  last_read_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_write_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  days: Type.Array(AccessDayView, { description: 'days with any access, oldest first (the last 90)' }),
});

/** A decision as GET /tiering/decisions shows it, less what the detail does not need. */
const DecisionSummary = Type.Omit(DecisionView, ['key', 'model_version', 'inputs', 'rules', 'job_id', 'updated_at']);

export const FileDetail = Type.Object({
  file: InventoryItem,
  versions: Type.Array(VersionView, { description: 'versions held (now or before) at your locations, newest first' }),
  history: Type.Array(CopyHistory, { description: 'every copy at your locations, deleted ones included, newest version first' }),
  audit: Type.Array(AuditView, { description: "the newest audit entries naming the key at your locations (at most 50), newest first" }),
  access: Type.Array(AccessView, { description: 'per location holding a copy: reads and writes per day' }),
  decisions: Type.Array(DecisionSummary, { description: 'tiering decisions about the key at your locations, newest first (at most 20 each)' }),
});

const DETAIL_AUDIT = 50;
const DETAIL_DECISIONS = 20;
const ACCESS_DAYS = 90;

const checksumsOf = (replica: Replica): Record<string, string> => Object.fromEntries(Object.entries(replica.checksums).filter((e): e is [string, string] => e[1] !== undefined));

export const inventoryRoutes: FastifyPluginAsyncTypebox<InventoryRoutesOptions> = async (app, { metadata, policy, prices }) => {
  const visibleTo = (request: Parameters<typeof requirePrincipal>[0]): string[] => {
    const principal = requirePrincipal(request);
    return policy.locations.filter((l) => policy.authorize(principal, l).allowed);
  };

  /** The latest decision of every copy shown, in one statement. */
  const decisionsFor = async (pairs: ReadonlyArray<{ location: string; key: string }>): Promise<Map<string, TierDecision>> => {
    const latest = pairs.length === 0 ? [] : await metadata.tiering.latestDecisions(pairs);
    return new Map(latest.map((d) => [decisionKey(d.location, d.key), d]));
  };

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
        response: { 200: ListResponse },
      },
    },
    async (request) => {
      const { prefix, location, state, cursor, limit, tier, q, sort, order } = request.query;
      // The caller's locations bound the listing itself, before paging (see the header).
      const locations = visibleTo(request);
      const page = await metadata.listInventory({
        ...(prefix === undefined ? {} : { prefix }),
        ...(location === undefined ? {} : { location }),
        ...(state === undefined ? {} : { replicaStates: [state] }),
        ...(cursor === undefined ? {} : { cursor }),
        ...(q === undefined ? {} : { search: q }),
        ...(sort === undefined ? {} : { sort }),
        ...(order === undefined ? {} : { order }),
        ...(tier === undefined ? {} : { replicaTiers: locations.map((l) => ({ location: l, tiers: tierNames(pricingOf(prices, l), tier) })) }),
        locations,
        limit: limit ?? 100,
      });
      const decisions = await decisionsFor(page.items.flatMap((e) => e.replicas.map((r) => ({ location: r.location, key: e.file.key }))));
      const items = page.items.map((entry) => inventoryItem(entry, { prices, decisions })).filter((item) => item.replicas.length > 0);
      return { items, next_cursor: page.nextCursor ?? null };
    },
  );

  app.get<{ Params: { location: string; '*': string } }>(
    '/inventory/files/:location/*',
    {
      config: { auth: true },
      schema: {
        tags: ['files'],
        summary: "One file as you see it: versions, copies with checksums, its audit entries, access per day, tiering decisions",
        security: [...BEARER_SECURITY],
        params: DetailParams,
        response: { 200: FileDetail },
      },
    },
    async (request) => {
      const { location } = request.params;
      const key = request.params['*'];
      // Authorised on the location before the key is looked up: whether a file exists is
      // nobody's business where they may not read.
      await authorizeLocation(request, location, { action: 'read', objectKey: key });
      if (!policy.locations.includes(location)) throw new MovingDataError('not_found', `no location named '${location}'`, { details: { location } });
      const visible = visibleTo(request);
      const file = await metadata.findFileByKey(key);
      const notHere = () => new MovingDataError('not_found', `no file '${key}' at ${location}`, { details: { key, location } });
      if (file === undefined) throw notHere();
      const [allReplicas, allVersions] = await Promise.all([metadata.listReplicasOfFile(file.id), metadata.listVersions(file.id)]);
      const mine = allReplicas.filter((r) => visible.includes(r.location));
      const byNumber = new Map(allVersions.map((v) => [v.version, v]));
      const live = mine
        .filter((r) => r.state !== 'deleted' && byNumber.get(r.version)?.state === 'committed')
        // Each location's own copy: the newest version it holds live.
        .filter((r, _, all) => !all.some((o) => o.location === r.location && o.version > r.version))
        .sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
      if (!live.some((r) => r.location === location)) throw notHere();
      const held = new Set(mine.map((r) => r.version));
      const entry: InventoryEntry = { file, current: null, replicas: live, versions: allVersions.filter((v) => held.has(v.version)) };
      const since = new Date(Date.now() - ACCESS_DAYS * 86_400_000).toISOString().slice(0, 10);
      const [decisions, audit, access, history] = await Promise.all([
        decisionsFor(live.map((r) => ({ location: r.location, key }))),
        metadata.audit.forObject({ key, locations: visible, limit: DETAIL_AUDIT }),
        Promise.all(live.map((r) => metadata.accessStats.summary(r.location, key, since))),
        Promise.all(live.map((r) => metadata.tiering.listDecisions({ location: r.location, key, limit: DETAIL_DECISIONS }))),
      ]);
      const item = inventoryItem(entry, { prices, decisions });
      return {
        file: item,
        versions: entry.versions
          .toSorted((a, b) => b.version - a.version)
          .map((v) => ({
            version: v.version,
            state: v.state,
            size: v.size,
            sha256: v.sha256,
            encryption: v.encryption.format,
            content_type: v.contentType,
            metadata: { ...v.metadata },
            written_by: v.writtenBy,
            created_at: v.createdAt.toISOString(),
            current: v.version === item.version,
          })),
        history: mine
          .toSorted((a, b) => b.version - a.version || (a.location < b.location ? -1 : 1))
          .map((r) => ({ location: r.location, version: r.version, state: r.state, object_key: r.objectKey, checksums: checksumsOf(r), key_id: r.encryption?.keyIds[0] ?? null, updated_at: r.updatedAt.toISOString() })),
        audit: audit.map((e) => ({ seq: e.seq, at: e.at.toISOString(), principal: e.principal, action: e.action, location: e.location, outcome: e.outcome, sha256: e.sha256, key_id: e.keyId })),
        access: access.map((a) => ({
          location: a.location,
          last_read_at: a.lastReadAt?.toISOString() ?? null,
          last_write_at: a.lastWriteAt?.toISOString() ?? null,
          days: a.days.map((d) => ({ day: d.day, reads: d.reads, writes: d.writes, deletes: d.deletes, bytes_read: d.bytesRead, bytes_written: d.bytesWritten })),
        })),
        decisions: history
          .flat()
          .filter((d) => d.fileId === file.id)
          .toSorted((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
          .map((d) => {
            const { key: _key, model_version: _model, inputs: _inputs, rules: _rules, job_id: _job, updated_at: _updated, ...summary } = decisionView(d);
            return summary;
          }),
      };
    },
  );
};

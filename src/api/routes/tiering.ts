/**
 * Predictive tiering over HTTP (src/tiering/service.ts):
 * - GET /predictive/recommendations: per file at a location, tier now, recommended tier,
 *   confidence, expected monthly saving, the reasons (every rule's verdict) and the features;
 * - GET /predictive/model: the model in use (version, kind, metrics) and the earlier versions;
 * - POST /predictive/train {records?, auto_label?, days?}: the seed's endpoint (see train.ts);
 * - POST /tiering/run {dry_run?, locations?, prefix?}: a tiering run now; GET /tiering/decisions;
 * - POST /tiering/change {location, key, tier} and POST /tiering/restore {location, key}: a
 *   user's tier change (archive included; a restore brings an archived file back to hot);
 * - GET/PUT/DELETE /tiering/pins: a tier for every key under a prefix;
 * - GET /tiering/costs: monthly cost now per location and tier, and the projected saving;
 * - GET /tiering/policies: over the stored access statistics, the cost of our model + rules
 *   against always-hot, lifecycle 30/90, S3 Intelligent-Tiering and the offline optimum.
 *
 * Who sees what: recommendations, costs and changes per location follow the location's roles;
 * runs, training, pins and the decision log across locations are operators' (admin,
 * operations, system).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AccessPolicy } from '../../access/policy.ts';
import { MovingDataError } from '../../errors.ts';
import { isFinished, type JobRunner } from '../../jobs/runner.ts';
import { TIER_DECISION_STATES, type MetadataStore, type TierDecision } from '../../metadata/index.ts';
import type { TierClass } from '../../storage/port.ts';
import type { Recommendation, TieringService } from '../../tiering/service.ts';
import { comparePolicies, DEFAULT_COMPARISON_FILES, MAX_COMPARISON_FILES } from '../../tiering/comparison.ts';
import { trainFromRequest } from '../../tiering/train.ts';
import { BEARER_SECURITY, authorizeLocation, authorizeRoles, requirePrincipal } from '../auth.ts';
import { OPERATOR_ROLES } from './consistency.ts';
import { JobView, jobView } from './replication.ts';

const WAIT_MS = 10 * 60_000;
const TIER = Type.Union([Type.Literal('hot'), Type.Literal('cool'), Type.Literal('cold'), Type.Literal('archive')]);
const LOCATION = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' });
/** Keys and prefixes: no control characters (object keys cannot hold them either). */
const NO_CONTROL = '^[^\\x00-\\x1f\\x7f]*$';
const KEY = Type.String({ minLength: 1, maxLength: 1024, pattern: NO_CONTROL });
const PREFIX = (description?: string) => Type.String({ maxLength: 1024, pattern: NO_CONTROL, ...(description === undefined ? {} : { description }) });

const Reason = Type.Object({ rule: Type.String(), verdict: Type.String({ description: 'pass | applied | blocked | skipped' }), detail: Type.String() });

export const RecommendationView = Type.Object({
  location: Type.String(),
  key: Type.String(),
  version: Type.Integer(),
  size: Type.Integer(),
  tier: Type.String({ description: 'our tier now: hot | cool | cold | archive' }),
  storage_class: Type.Union([Type.String(), Type.Null()], { description: "the provider's class now" }),
  recommended: Type.String(),
  recommended_class: Type.Union([Type.String(), Type.Null()]),
  to_location: Type.String({ description: 'this location, or another one for a move' }),
  change: Type.String({ description: 'none | tier | move' }),
  proposed: Type.String({ description: "the model's (or the cost rule's) proposal before the rules" }),
  confidence: Type.Number(),
  source: Type.String({ description: 'model | rules' }),
  model_version: Type.Union([Type.Integer(), Type.Null()], { description: 'null: the default model shipped with MovingData, or rules alone' }),
  monthly_cost: Type.Number({ description: 'estimated USD a month now (storage + reads at the 30-day rate)' }),
  recommended_monthly_cost: Type.Number(),
  expected_monthly_saving: Type.Number(),
  move_cost: Type.Number({ description: 'one-off USD of the change (transition, early deletion, egress)' }),
  reasons: Type.Array(Reason),
  features: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])),
});

function recommendationView(r: Recommendation): Static<typeof RecommendationView> {
  return {
    location: r.location,
    key: r.key,
    version: r.version,
    size: r.size,
    tier: r.tier,
    storage_class: r.storageClass,
    recommended: r.recommended,
    recommended_class: r.recommendedClass,
    to_location: r.toLocation,
    change: r.kind,
    proposed: r.proposed,
    confidence: r.confidence,
    source: r.source,
    model_version: r.modelVersion,
    monthly_cost: r.monthlyCost,
    recommended_monthly_cost: r.recommendedMonthlyCost,
    expected_monthly_saving: r.expectedMonthlySaving,
    move_cost: r.moveCost,
    reasons: r.reasons.map((o) => ({ rule: o.rule, verdict: o.verdict, detail: o.detail })),
    features: { ...r.features },
  };
}

export const DecisionView = Type.Object({
  id: Type.String(),
  run_id: Type.String(),
  location: Type.String(),
  key: Type.String(),
  version: Type.Integer(),
  change: Type.String({ description: 'tier | move' }),
  from_tier: Type.String(),
  to_tier: Type.String(),
  to_location: Type.String(),
  proposed: Type.String(),
  confidence: Type.Number(),
  model_version: Type.Union([Type.Integer(), Type.Null()]),
  inputs: Type.Record(Type.String(), Type.Unknown()),
  rules: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  expected_monthly_saving: Type.Number(),
  move_cost: Type.Number(),
  state: Type.String({ description: TIER_DECISION_STATES.join(' | ') }),
  job_id: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  created_by: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export function decisionView(d: TierDecision): Static<typeof DecisionView> {
  return {
    id: d.id,
    run_id: d.runId,
    location: d.location,
    key: d.key,
    version: d.version,
    change: d.kind,
    from_tier: d.fromTier,
    to_tier: d.toTier,
    to_location: d.toLocation,
    proposed: d.proposed,
    confidence: d.confidence,
    model_version: d.modelVersion,
    inputs: { ...d.inputs },
    rules: d.rules.map((r) => ({ ...r })),
    expected_monthly_saving: d.expectedMonthlySaving,
    move_cost: d.moveCost,
    state: d.state,
    job_id: d.jobId,
    error: d.error,
    created_by: d.createdBy,
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}

const Metrics = Type.Record(Type.String(), Type.Unknown());
const ModelSummary = Type.Object({
  version: Type.Integer(),
  kind: Type.String(),
  trained_on: Type.String(),
  records: Type.Integer(),
  metrics: Metrics,
  created_by: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

const PinView = Type.Object({ location: Type.String(), prefix: Type.String(), tier: Type.String(), created_by: Type.String(), created_at: Type.String({ format: 'date-time' }) });

const TraceRecord = Type.Object(
  {
    key: KEY,
    size: Type.Integer({ minimum: 0 }),
    created_day: Type.Integer({ minimum: 0 }),
    reads: Type.Array(Type.Array(Type.Integer({ minimum: 0 }), { minItems: 2, maxItems: 2 }), { maxItems: 100_000 }),
    label: Type.Optional(TIER),
  },
  { additionalProperties: false },
);

const KeyRequest = Type.Object(
  {
    location: LOCATION,
    key: KEY,
    wait: Type.Optional(Type.Boolean({ description: 'wait for the job (default true)' })),
  },
  { additionalProperties: false },
);

const PolicyCost = Type.Object({
  name: Type.String({ description: 'model+rules | rules | always-hot | lifecycle-30/90 | intelligent-tiering | optimum' }),
  label: Type.String(),
  kind: Type.Union([Type.Literal('ours'), Type.Literal('baseline'), Type.Literal('optimum')]),
  total: Type.Number({ description: 'USD over the days compared' }),
  monthly: Type.Number({ description: 'USD a month at the same rate' }),
  over_optimum: Type.Number({ description: 'total / optimum - 1' }),
});

export const PolicyComparisonResponse = Type.Object({
  currency: Type.String(),
  prices: Type.String(),
  days: Type.Integer(),
  files: Type.Integer(),
  bytes: Type.Integer(),
  truncated: Type.Boolean({ description: 'more copies exist than were compared' }),
  model: Type.Object({ source: Type.String({ description: 'trained | default | none' }), version: Type.Union([Type.Integer(), Type.Null()]) }),
  policies: Type.Array(PolicyCost),
  cheapest: Type.Union([Type.String(), Type.Null()], { description: 'the cheapest policy other than the optimum' }),
  elapsed_ms: Type.Integer(),
});

export interface TieringRoutesOptions {
  readonly tiering: TieringService;
  readonly jobs: JobRunner;
  readonly metadata: MetadataStore;
  readonly policy: AccessPolicy;
}

function encodeCursor(location: string, key: string): string {
  return Buffer.from(JSON.stringify([location, key]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { location: string; key: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') return { location: parsed[0], key: parsed[1] };
  } catch {
    // fall through
  }
  throw new MovingDataError('invalid_cursor', 'cursor is not one this endpoint returned', { retryable: false });
}

export const tieringRoutes: FastifyPluginAsyncTypebox<TieringRoutesOptions> = async (app, { tiering, jobs, metadata, policy }) => {
  const visibleLocations = (request: Parameters<typeof requirePrincipal>[0]): string[] => {
    const principal = requirePrincipal(request);
    return tiering.locations.filter((l) => policy.authorize(principal, l).allowed);
  };

  app.get(
    '/predictive/recommendations',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Per file: tier now, recommended tier, confidence, expected monthly saving and the reasons',
        security: [...BEARER_SECURITY],
        querystring: Type.Object({
          location: Type.Optional(LOCATION),
          prefix: Type.Optional(PREFIX()),
          changes_only: Type.Optional(Type.Boolean({ description: 'only files whose recommendation changes something' })),
          cursor: Type.Optional(Type.String({ maxLength: 4096 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(RecommendationView), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const { location, prefix, cursor, limit = 100, changes_only: changesOnly } = request.query;
      if (location !== undefined) await authorizeLocation(request, location, { action: 'recommendations' });
      const locations = location === undefined ? visibleLocations(request) : [location];
      let after = cursor === undefined ? undefined : decodeCursor(cursor);
      if (after !== undefined && !locations.includes(after.location)) throw new MovingDataError('invalid_cursor', 'cursor is not one this endpoint returned for these filters', { retryable: false });
      const items: Recommendation[] = [];
      let next: { location: string; key: string } | undefined;
      // Locations in order, keys in order within each: the cursor is (location, key).
      outer: for (const l of after === undefined ? locations : locations.slice(locations.indexOf(after.location))) {
        let afterKey = after?.location === l ? after.key : undefined;
        after = undefined;
        for (;;) {
          const page = await tiering.recommend({ location: l, limit: Math.min(1000, limit * (changesOnly === true ? 4 : 1)), ...(prefix === undefined ? {} : { prefix }), ...(afterKey === undefined ? {} : { afterKey }) });
          for (const r of page.items) {
            if (changesOnly === true && r.kind === 'none') continue;
            items.push(r);
            if (items.length === limit) {
              next = { location: l, key: r.key };
              break outer;
            }
          }
          if (page.nextKey === undefined) break;
          afterKey = page.nextKey;
        }
      }
      return { items: items.map(recommendationView), next_cursor: next === undefined ? null : encodeCursor(next.location, next.key) };
    },
  );

  app.get(
    '/predictive/model',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'The tier model in use: version, kind, metrics on its held-out split; earlier versions',
        security: [...BEARER_SECURITY],
        response: {
          200: Type.Object({
            source: Type.String({ description: 'trained (a stored version) | default (shipped with MovingData) | none (rules alone)' }),
            version: Type.Union([Type.Integer(), Type.Null()]),
            kind: Type.Union([Type.String(), Type.Null()]),
            trained_on_records: Type.Union([Type.Integer(), Type.Null()]),
            metrics: Type.Union([Metrics, Type.Null()]),
            features: Type.Array(Type.String()),
            history: Type.Array(ModelSummary),
          }),
        },
      },
    },
    async (request) => {
      requirePrincipal(request);
      const [active, history] = await Promise.all([tiering.activeModel(), metadata.tiering.listModels(20)]);
      const { FEATURE_NAMES } = await import('../../tiering/model/features.ts');
      return {
        source: active === undefined ? 'none' : active.version === null ? 'default' : 'trained',
        version: active?.version ?? null,
        kind: active?.model.kind ?? null,
        trained_on_records: active?.model.trainedOn ?? null,
        metrics: active?.stored?.metrics ?? null,
        features: [...FEATURE_NAMES],
        history: history.map((m) => ({ version: m.version, kind: m.kind, trained_on: m.trainedOn, records: m.records, metrics: { ...m.metrics }, created_by: m.createdBy, created_at: m.createdAt.toISOString() })),
      };
    },
  );

  app.post(
    '/predictive/train',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Train the tier model: on records in the trace format (labelled, or auto_label from the offline optimum), or on the stored access statistics',
        security: [...BEARER_SECURITY],
        body: Type.Optional(
          Type.Object(
            {
              records: Type.Optional(Type.Array(TraceRecord, { maxItems: 100_000 })),
              auto_label: Type.Optional(Type.Boolean({ description: 'labels from the offline optimum over each record\'s history (default: true when records carry no label)' })),
              days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'length of the records\' history in days (default: one past the last read)' })),
              provider: Type.Optional(Type.Union([Type.Literal('aws'), Type.Literal('azure'), Type.Literal('gcp')])),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: Type.Object({ ok: Type.Boolean(), model: ModelSummary, trained_on: Type.String(), labels: Type.Record(Type.String(), Type.Integer()) }) },
      },
    },
    async (request) => {
      const principal = await authorizeRoles(request, OPERATOR_ROLES, { action: 'predictive_train' });
      const body = request.body ?? {};
      const outcome = await trainFromRequest({ metadata, tiering }, { principal: principal.name, ...body });
      tiering.modelChanged();
      const m = outcome.stored;
      return {
        ok: true,
        trained_on: m.trainedOn,
        labels: outcome.labels,
        model: { version: m.version, kind: m.kind, trained_on: m.trainedOn, records: m.records, metrics: { ...m.metrics }, created_by: m.createdBy, created_at: m.createdAt.toISOString() },
      };
    },
  );

  app.post(
    '/tiering/run',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Run tiering now: a decision per change; outside a dry run each is a job (class change or move)',
        security: [...BEARER_SECURITY],
        body: Type.Optional(
          Type.Object(
            {
              dry_run: Type.Optional(Type.Boolean({ description: 'record decisions only (default: TIERING_DRY_RUN, on outside demo mode)' })),
              locations: Type.Optional(Type.Array(LOCATION, { minItems: 1, maxItems: 16 })),
              prefix: Type.Optional(PREFIX()),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'at most this many changes' })),
            },
            { additionalProperties: false },
          ),
        ),
        response: {
          200: Type.Object({ run_id: Type.String(), dry_run: Type.Boolean(), considered: Type.Integer(), expected_monthly_saving: Type.Number(), decisions: Type.Array(DecisionView) }),
        },
      },
    },
    async (request) => {
      const principal = await authorizeRoles(request, OPERATOR_ROLES, { action: 'tiering_run' });
      const body = request.body ?? {};
      for (const l of body.locations ?? []) tiering.pricing(l);
      const report = await tiering.run(jobs, {
        principal: principal.name,
        ...(body.dry_run === undefined ? {} : { dryRun: body.dry_run }),
        ...(body.locations === undefined ? {} : { locations: body.locations }),
        ...(body.prefix === undefined ? {} : { prefix: body.prefix }),
        ...(body.limit === undefined ? {} : { limit: body.limit }),
      });
      return { run_id: report.runId, dry_run: report.dryRun, considered: report.considered, expected_monthly_saving: report.expectedMonthlySaving, decisions: report.decisions.map(decisionView) };
    },
  );

  app.get(
    '/tiering/decisions',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Tiering decisions, newest first, with inputs, confidence, rule verdicts, expected saving and outcome',
        security: [...BEARER_SECURITY],
        querystring: Type.Object({
          location: Type.Optional(LOCATION),
          key: Type.Optional(KEY),
          state: Type.Optional(Type.Union(TIER_DECISION_STATES.map((s) => Type.Literal(s)))),
          run_id: Type.Optional(Type.String({ maxLength: 128 })),
          cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,18}$' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Type.Object({ decisions: Type.Array(DecisionView), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const q = request.query;
      // Decisions name keys: a location's own users see its decisions, operators all.
      if (q.location === undefined) await authorizeRoles(request, OPERATOR_ROLES, { action: 'tiering_decisions' });
      else await authorizeLocation(request, q.location, { action: 'tiering_decisions' });
      const limit = q.limit ?? 100;
      const decisions = await metadata.tiering.listDecisions({
        limit,
        ...(q.location === undefined ? {} : { location: q.location }),
        ...(q.key === undefined ? {} : { key: q.key }),
        ...(q.state === undefined ? {} : { state: q.state }),
        ...(q.run_id === undefined ? {} : { runId: q.run_id }),
        ...(q.cursor === undefined ? {} : { beforeId: q.cursor }),
      });
      return { decisions: decisions.map(decisionView), next_cursor: decisions.length === limit ? (decisions.at(-1)?.id ?? null) : null };
    },
  );

  const ChangeResponse = Type.Object({ ok: Type.Boolean(), decision: DecisionView, job: JobView });
  const change = async (
    request: Parameters<typeof requirePrincipal>[0],
    body: { location: string; key: string; wait?: boolean | undefined },
    tier: TierClass,
  ): Promise<{ status: 200 | 202; body: Static<typeof ChangeResponse> }> => {
    const principal = await authorizeLocation(request, body.location, { action: 'tier_change', objectKey: body.key });
    const { decision, job } = await tiering.request(jobs, principal.name, body.location, body.key, tier, { waitMs: body.wait === false ? 0 : WAIT_MS });
    const done = isFinished(job);
    const latest = done ? await metadata.tiering.getDecision(decision.id) : decision;
    return { status: done ? 200 : 202, body: { ok: job.state === 'succeeded', decision: decisionView(latest), job: jobView(job) } };
  };

  app.post(
    '/tiering/change',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: "Change one file's tier at a location now (a user's request: archive included)",
        security: [...BEARER_SECURITY],
        body: Type.Object(
          {
            location: LOCATION,
            key: KEY,
            tier: TIER,
            wait: Type.Optional(Type.Boolean({ description: 'wait for the job (default true)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ChangeResponse, 202: ChangeResponse },
      },
    },
    async (request, reply) => {
      const out = await change(request, request.body, request.body.tier);
      return reply.status(out.status).send(out.body);
    },
  );

  app.post(
    '/tiering/restore',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Restore an archived file (back to hot) so that it can be read',
        security: [...BEARER_SECURITY],
        body: KeyRequest,
        response: { 200: ChangeResponse, 202: ChangeResponse },
      },
    },
    async (request, reply) => {
      const out = await change(request, request.body, 'hot');
      return reply.status(out.status).send(out.body);
    },
  );

  app.get(
    '/tiering/pins',
    {
      config: { auth: true },
      schema: { tags: ['tiering'], summary: 'User pins: a tier for every key under a prefix', security: [...BEARER_SECURITY], response: { 200: Type.Object({ pins: Type.Array(PinView) }) } },
    },
    async (request) => {
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'tiering_pins' });
      const pins = await metadata.tiering.listPins();
      return { pins: pins.map((p) => ({ location: p.location, prefix: p.prefix, tier: p.tier, created_by: p.createdBy, created_at: p.createdAt.toISOString() })) };
    },
  );

  const PinKey = Type.Object(
    {
      location: Type.Union([LOCATION, Type.Literal('*')], { description: 'a location, or * for every location' }),
      prefix: PREFIX('every key starting with this; the empty prefix pins everything'),
    },
    { additionalProperties: false },
  );

  app.put(
    '/tiering/pins',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Pin a prefix to a tier (the rules then leave it there; archive only ever by a pin or a request)',
        security: [...BEARER_SECURITY],
        body: Type.Object({ location: PinKey.properties.location, prefix: PinKey.properties.prefix, tier: TIER }, { additionalProperties: false }),
        response: { 200: PinView },
      },
    },
    async (request) => {
      const principal = await authorizeRoles(request, OPERATOR_ROLES, { action: 'tiering_pin' });
      if (request.body.location !== '*') tiering.pricing(request.body.location);
      const pin = await metadata.tiering.putPin({ location: request.body.location, prefix: request.body.prefix, tier: request.body.tier, createdBy: principal.name });
      return { location: pin.location, prefix: pin.prefix, tier: pin.tier, created_by: pin.createdBy, created_at: pin.createdAt.toISOString() };
    },
  );

  app.delete(
    '/tiering/pins',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Remove a pin',
        security: [...BEARER_SECURITY],
        querystring: PinKey,
        response: { 200: Type.Object({ deleted: Type.Boolean() }) },
      },
    },
    async (request) => {
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'tiering_unpin' });
      return { deleted: await metadata.tiering.deletePin(request.query.location, request.query.prefix) };
    },
  );

  const TierTotals = Type.Object({ files: Type.Integer(), bytes: Type.Integer(), monthly_cost: Type.Number() });
  app.get(
    '/tiering/costs',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Estimated monthly cost now per location and tier, and the projected saving of the recommendations',
        security: [...BEARER_SECURITY],
        response: {
          200: Type.Object({
            currency: Type.String(),
            locations: Type.Array(
              Type.Object({
                location: Type.String(),
                provider: Type.String(),
                files: Type.Integer(),
                bytes: Type.Integer(),
                monthly_cost: Type.Number(),
                recommended_monthly_cost: Type.Number(),
                projected_monthly_saving: Type.Number(),
                changes: Type.Integer(),
                tiers: Type.Record(Type.String(), TierTotals),
              }),
            ),
            total: Type.Object({ files: Type.Integer(), bytes: Type.Integer(), monthly_cost: Type.Number(), recommended_monthly_cost: Type.Number(), projected_monthly_saving: Type.Number() }),
          }),
        },
      },
    },
    async (request) => {
      const locations = visibleLocations(request);
      interface Row {
        location: string;
        provider: string;
        files: number;
        bytes: number;
        monthly_cost: number;
        recommended_monthly_cost: number;
        projected_monthly_saving: number;
        changes: number;
        tiers: Record<string, { files: number; bytes: number; monthly_cost: number }>;
      }
      const out: Row[] = [];
      for (const location of locations) {
        const row: Row = { location, provider: tiering.pricing(location).provider, files: 0, bytes: 0, monthly_cost: 0, recommended_monthly_cost: 0, projected_monthly_saving: 0, changes: 0, tiers: {} };
        for await (const r of tiering.recommendAll({ locations: [location] })) {
          row.files += 1;
          row.bytes += r.size;
          row.monthly_cost += r.monthlyCost;
          row.recommended_monthly_cost += r.recommendedMonthlyCost;
          row.projected_monthly_saving += r.expectedMonthlySaving;
          if (r.kind !== 'none') row.changes += 1;
          const t = (row.tiers[r.tier] ??= { files: 0, bytes: 0, monthly_cost: 0 });
          t.files += 1;
          t.bytes += r.size;
          t.monthly_cost += r.monthlyCost;
        }
        out.push(row);
      }
      const sum = (f: (r: Row) => number): number => out.reduce((s, r) => s + f(r), 0);
      return {
        currency: 'USD',
        locations: out,
        total: { files: sum((r) => r.files), bytes: sum((r) => r.bytes), monthly_cost: sum((r) => r.monthly_cost), recommended_monthly_cost: sum((r) => r.recommended_monthly_cost), projected_monthly_saving: sum((r) => r.projected_monthly_saving) },
      };
    },
  );

  app.get(
    '/tiering/policies',
    {
      config: { auth: true },
      schema: {
        tags: ['tiering'],
        summary: 'Policy comparison over the stored access statistics: ours (model + rules) against always-hot, lifecycle 30/90, S3 Intelligent-Tiering and the offline optimum (operators)',
        security: [...BEARER_SECURITY],
        querystring: Type.Object(
          { max_files: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_COMPARISON_FILES, default: DEFAULT_COMPARISON_FILES, description: 'compare at most this many copies (a sample: an equal share from each location, in key order)' })) },
          { additionalProperties: false },
        ),
        response: { 200: PolicyComparisonResponse },
      },
    },
    async (request) => {
      // The statistics span every location and name no key: operators'.
      await authorizeRoles(request, OPERATOR_ROLES, { action: 'tiering_policies' });
      const comparison = await comparePolicies({ metadata, tiering }, { maxFiles: request.query.max_files ?? DEFAULT_COMPARISON_FILES });
      return { ...comparison, policies: [...comparison.policies] };
    },
  );
};

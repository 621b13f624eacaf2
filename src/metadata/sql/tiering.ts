/**
 * Tier models, tiering decisions, pins and the tiering run's candidates, in SQL (both
 * adapters). Models are stored whole (JSON trees) under a generated version; decisions keep
 * their inputs and rule verdicts as JSON so the dashboard can show why.
 */
import { sql } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import type { JsonObject, NewTierDecision, NewTierModel, StoredTierModel, TierCandidate, TierDecision, TierDecisionState, TierPin, TieringStore } from '../port.ts';
import { Part } from './events.ts';
import { toDate, toId, toSafeInteger } from './rows.ts';

interface ModelRow {
  version: unknown;
  kind: string;
  trained_on: string;
  records: unknown;
  metrics: unknown;
  model?: unknown;
  created_by: string;
  created_at: unknown;
}

interface DecisionRow {
  id: unknown;
  run_id: string;
  location: string;
  object_key: string;
  file_id: unknown;
  version: unknown;
  kind: string;
  from_tier: string;
  to_tier: string;
  to_location: string;
  proposed: string;
  confidence: unknown;
  model_version: unknown;
  inputs: unknown;
  rules: unknown;
  expected_monthly_saving: unknown;
  move_cost: unknown;
  state: string;
  job_id: string | null;
  error: string | null;
  created_by: string;
  created_at: unknown;
  updated_at: unknown;
}

const json = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

function toModel(row: ModelRow): Omit<StoredTierModel, 'model'> & { model?: JsonObject } {
  return {
    version: toSafeInteger(row.version),
    kind: row.kind as StoredTierModel['kind'],
    trainedOn: row.trained_on,
    records: toSafeInteger(row.records),
    metrics: json(row.metrics) as JsonObject,
    ...(row.model === undefined ? {} : { model: json(row.model) as JsonObject }),
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
  };
}

function toDecision(row: DecisionRow): TierDecision {
  return {
    id: toId(row.id),
    runId: row.run_id,
    location: row.location,
    key: row.object_key,
    fileId: toId(row.file_id),
    version: toSafeInteger(row.version),
    kind: row.kind as TierDecision['kind'],
    fromTier: row.from_tier,
    toTier: row.to_tier,
    toLocation: row.to_location,
    proposed: row.proposed,
    confidence: Number(row.confidence),
    modelVersion: row.model_version === null ? null : toSafeInteger(row.model_version),
    inputs: json(row.inputs) as JsonObject,
    rules: json(row.rules) as JsonObject[],
    expectedMonthlySaving: Number(row.expected_monthly_saving),
    moveCost: Number(row.move_cost),
    state: row.state as TierDecisionState,
    jobId: row.job_id,
    error: row.error,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

const DECISION_ID = /^[1-9]\d{0,18}$/;

export class SqlTieringStore extends Part implements TieringStore {
  saveModel(model: NewTierModel): Promise<StoredTierModel> {
    return this.run('saveTierModel', async () => {
      const result = await sql<ModelRow>`insert into tier_models (kind, trained_on, records, metrics, model, created_by)
        values (${model.kind}, ${model.trainedOn}, ${model.records}, ${JSON.stringify(model.metrics)}::jsonb, ${JSON.stringify(model.model)}::jsonb, ${model.createdBy})
        returning *`.execute(this.db);
      return toModel(result.rows[0]!) as StoredTierModel;
    });
  }

  latestModel(): Promise<StoredTierModel | undefined> {
    return this.run('latestTierModel', async () => {
      const result = await sql<ModelRow>`select * from tier_models order by version desc limit 1`.execute(this.db);
      const row = result.rows[0];
      return row === undefined ? undefined : (toModel(row) as StoredTierModel);
    });
  }

  listModels(limit = 20): Promise<Array<Omit<StoredTierModel, 'model'>>> {
    return this.run('listTierModels', async () => {
      const n = Math.max(1, Math.min(1000, limit));
      const result = await sql<ModelRow>`select version, kind, trained_on, records, metrics, created_by, created_at from tier_models order by version desc limit ${n}`.execute(this.db);
      return result.rows.map((r) => toModel(r));
    });
  }

  recordDecisions(decisions: readonly NewTierDecision[]): Promise<TierDecision[]> {
    return this.run('recordTierDecisions', async () => {
      if (decisions.length === 0) return [];
      const col = <T>(f: (d: NewTierDecision) => T): T[] => decisions.map(f);
      const result = await sql<DecisionRow>`insert into tier_decisions (run_id, location, object_key, file_id, version, kind, from_tier, to_tier, to_location,
          proposed, confidence, model_version, inputs, rules, expected_monthly_saving, move_cost, state, created_by)
        select run_id, location, object_key, file_id, version, kind, from_tier, to_tier, to_location, proposed, confidence, model_version,
          inputs::jsonb, rules::jsonb, saving, cost, state, created_by
        from unnest(${col((d) => d.runId)}::text[], ${col((d) => d.location)}::text[], ${col((d) => d.key)}::text[], ${col((d) => d.fileId)}::bigint[],
          ${col((d) => d.version)}::int[], ${col((d) => d.kind)}::text[], ${col((d) => d.fromTier)}::text[], ${col((d) => d.toTier)}::text[],
          ${col((d) => d.toLocation)}::text[], ${col((d) => d.proposed)}::text[], ${col((d) => d.confidence)}::float8[], ${col((d) => d.modelVersion)}::int[],
          ${col((d) => JSON.stringify(d.inputs))}::text[], ${col((d) => JSON.stringify(d.rules))}::text[], ${col((d) => d.expectedMonthlySaving)}::float8[],
          ${col((d) => d.moveCost)}::float8[], ${col((d) => d.state)}::text[], ${col((d) => d.createdBy)}::text[])
          as u(run_id, location, object_key, file_id, version, kind, from_tier, to_tier, to_location, proposed, confidence, model_version, inputs, rules, saving, cost, state, created_by)
        returning *`.execute(this.db);
      return result.rows.map(toDecision).sort((a, b) => Number(a.id) - Number(b.id));
    });
  }

  updateDecision(id: string, change: { readonly state: TierDecisionState; readonly jobId?: string; readonly error?: string }): Promise<TierDecision> {
    return this.run('updateTierDecision', async () => {
      if (!DECISION_ID.test(id)) throw new MovingDataError('not_found', `no tiering decision ${id}`, { retryable: false });
      const result = await sql<DecisionRow>`update tier_decisions set state = ${change.state}, job_id = coalesce(${change.jobId ?? null}, job_id),
          error = ${change.error ?? null}, updated_at = now()
        where id = ${id}::bigint returning *`.execute(this.db);
      const row = result.rows[0];
      if (row === undefined) throw new MovingDataError('not_found', `no tiering decision ${id}`, { retryable: false });
      return toDecision(row);
    });
  }

  getDecision(id: string): Promise<TierDecision> {
    return this.run('getTierDecision', async () => {
      if (!DECISION_ID.test(id)) throw new MovingDataError('not_found', `no tiering decision ${id}`, { retryable: false });
      const result = await sql<DecisionRow>`select * from tier_decisions where id = ${id}::bigint`.execute(this.db);
      const row = result.rows[0];
      if (row === undefined) throw new MovingDataError('not_found', `no tiering decision ${id}`, { retryable: false });
      return toDecision(row);
    });
  }

  latestDecisions(pairs: ReadonlyArray<{ readonly location: string; readonly key: string }>): Promise<TierDecision[]> {
    return this.run('latestTierDecisions', async () => {
      if (pairs.length === 0) return [];
      // Two arrays unnested into pairs (one parameter each), each probing the (location, key, id) index.
      const result = await sql<DecisionRow>`select d.* from unnest(${pairs.map((p) => p.location)}::text[], ${pairs.map((p) => p.key)}::text[]) as p(location, object_key)
        cross join lateral (select * from tier_decisions td where td.location = p.location collate "C" and td.object_key = p.object_key collate "C" order by td.id desc limit 1) d
        order by d.location, d.object_key`.execute(this.db);
      return result.rows.map(toDecision);
    });
  }

  listDecisions(
    query: { readonly location?: string; readonly key?: string; readonly state?: TierDecisionState; readonly runId?: string; readonly beforeId?: string; readonly limit?: number } = {},
  ): Promise<TierDecision[]> {
    return this.run('listTierDecisions', async () => {
      const limit = Math.max(1, Math.min(1000, query.limit ?? 100));
      const before = query.beforeId !== undefined && /^\d{1,19}$/.test(query.beforeId) ? query.beforeId : null;
      const result = await sql<DecisionRow>`select * from tier_decisions
        where (${query.location ?? null}::text is null or location = ${query.location ?? null})
          and (${query.key ?? null}::text is null or object_key = ${query.key ?? null})
          and (${query.state ?? null}::text is null or state = ${query.state ?? null})
          and (${query.runId ?? null}::text is null or run_id = ${query.runId ?? null})
          and (${before}::bigint is null or id < ${before}::bigint)
        order by id desc limit ${limit}`.execute(this.db);
      return result.rows.map(toDecision);
    });
  }

  candidates(query: { readonly location: string; readonly asOf?: Date; readonly prefix?: string; readonly afterKey?: string; readonly limit?: number }): Promise<TierCandidate[]> {
    return this.run('tierCandidates', async () => {
      const asOf = (query.asOf ?? new Date()).toISOString().slice(0, 10);
      const limit = Math.max(1, Math.min(10_000, query.limit ?? 1000));
      const prefix = query.prefix ?? '';
      // Live files in key order (the live-key index), each joined to its current version's
      // verified copy here and to its last 90 days of access rows.
      const result = await sql<{
        location: string; object_key: string; file_id: unknown; version: unknown; size: unknown; tier: string | null;
        written_at: unknown; tier_since: unknown;
        r1: unknown; r7: unknown; r30: unknown; r90: unknown; b1: unknown; b7: unknown; b30: unknown; b90: unknown;
        lat30: unknown; n30: unknown; spikes30: unknown; last_read_at: unknown; last_write_at: unknown;
      }>`select r.location, f.key as object_key, f.id as file_id, v.version, v.size, r.tier, v.created_at as written_at,
          (select max(td.updated_at) from tier_decisions td
            where td.to_location = r.location and td.object_key = f.key and td.version = v.version and td.state = 'applied') as tier_since,
          coalesce(a.r1, 0) as r1, coalesce(a.r7, 0) as r7, coalesce(a.r30, 0) as r30, coalesce(a.r90, 0) as r90,
          coalesce(a.b1, 0) as b1, coalesce(a.b7, 0) as b7, coalesce(a.b30, 0) as b30, coalesce(a.b90, 0) as b90,
          a.lat30, coalesce(a.r30, 0) as n30, coalesce(a.spikes30, 0) as spikes30,
          af.last_read_at, af.last_write_at
        from files f
        join replicas r on r.file_id = f.id and r.version = f.current_version and r.location = ${query.location} and r.state = 'verified'
        join file_versions v on v.file_id = f.id and v.version = f.current_version and v.state = 'committed'
        left join access_files af on af.location = r.location and af.object_key = f.key
        left join lateral (
          select sum(d.reads) filter (where d.day > ${asOf}::date - 1) as r1,
            sum(d.reads) filter (where d.day > ${asOf}::date - 7) as r7,
            sum(d.reads) filter (where d.day > ${asOf}::date - 30) as r30,
            sum(d.reads) as r90,
            sum(d.bytes_read) filter (where d.day > ${asOf}::date - 1) as b1,
            sum(d.bytes_read) filter (where d.day > ${asOf}::date - 7) as b7,
            sum(d.bytes_read) filter (where d.day > ${asOf}::date - 30) as b30,
            sum(d.bytes_read) as b90,
            sum(d.read_latency_ms_sum) filter (where d.day > ${asOf}::date - 30) as lat30,
            sum(d.latency_spikes) filter (where d.day > ${asOf}::date - 30) as spikes30
          from access_daily d
          where d.location = r.location and d.object_key = f.key and d.day > ${asOf}::date - 90 and d.day <= ${asOf}::date
        ) a on true
        where f.deleted_at is null
          and (${prefix} = '' or starts_with(f.key, ${prefix}))
          and f.key > ${query.afterKey ?? ''}
        order by f.key
        limit ${limit}`.execute(this.db);
      const n = (v: unknown): number => toSafeInteger(v ?? 0);
      const date = (v: unknown): Date | null => (v === null || v === undefined ? null : toDate(v));
      return result.rows.map((r) => ({
        location: r.location,
        key: r.object_key,
        fileId: toId(r.file_id),
        version: toSafeInteger(r.version),
        size: toSafeInteger(r.size),
        tier: r.tier,
        writtenAt: toDate(r.written_at),
        tierSince: date(r.tier_since),
        access: {
          reads: [n(r.r1), n(r.r7), n(r.r30), n(r.r90)] as const,
          bytesRead: [n(r.b1), n(r.b7), n(r.b30), n(r.b90)] as const,
          lastReadAt: date(r.last_read_at),
          lastWriteAt: date(r.last_write_at),
          meanLatencyMs30: n(r.n30) === 0 || r.lat30 === null ? null : Number(r.lat30) / n(r.n30),
          spikes30: n(r.spikes30),
        },
      }));
    });
  }

  listPins(): Promise<TierPin[]> {
    return this.run('listTierPins', async () => {
      const result = await sql<{ location: string; prefix: string; tier: string; created_by: string; created_at: unknown }>`select * from tier_pins order by location, prefix`.execute(this.db);
      return result.rows.map((r) => ({ location: r.location, prefix: r.prefix, tier: r.tier as TierPin['tier'], createdBy: r.created_by, createdAt: toDate(r.created_at) }));
    });
  }

  putPin(pin: Omit<TierPin, 'createdAt'>): Promise<TierPin> {
    return this.run('putTierPin', async () => {
      const result = await sql<{ location: string; prefix: string; tier: string; created_by: string; created_at: unknown }>`insert into tier_pins (location, prefix, tier, created_by)
        values (${pin.location}, ${pin.prefix}, ${pin.tier}, ${pin.createdBy})
        on conflict (location, prefix) do update set tier = excluded.tier, created_by = excluded.created_by, created_at = now()
        returning *`.execute(this.db);
      const r = result.rows[0]!;
      return { location: r.location, prefix: r.prefix, tier: r.tier as TierPin['tier'], createdBy: r.created_by, createdAt: toDate(r.created_at) };
    });
  }

  deletePin(location: string, prefix: string): Promise<boolean> {
    return this.run('deleteTierPin', async () => {
      const result = await sql`delete from tier_pins where location = ${location} and prefix = ${prefix}`.execute(this.db);
      return Number(result.numAffectedRows ?? 0) > 0;
    });
  }
}

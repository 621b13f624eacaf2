/**
 * Predictive tiering in the product (issue 15 §1–§4): per-file features from the access
 * statistics, the model's proposal (or the cost-greedy one when there is no model), the rules
 * on top, and enforcement through the engine.
 *
 * - `recommend` pages through a location's committed copies (metadata `tiering.candidates`):
 *   features, proposal, rules, expected saving — what GET /predictive/recommendations shows.
 * - `run` is the tiering job: every recommendation that changes something becomes a decision
 *   (with its inputs, confidence, rule verdicts and expected saving); outside a dry run each
 *   decision is a `tier` job: a class change in place through the storage port's tier change,
 *   or a move (copy → verify → switch → delete) to a location that allows the same roles when
 *   this one cannot offer the tier. Jobs are audited (`policy` `tier:<class>` / `move`) and
 *   publish access events through the audit trail's outbox.
 * - Models: the newest trained one in the metadata store; before any training, the default
 *   model shipped with the project; without that, rules alone.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { EncryptedStore } from '../crypto/encrypted-store.ts';
import { MovingDataError } from '../errors.ts';
import { optionalPayloadText, payloadText, type JobRunner, type PayloadContext, type PayloadHandler } from '../jobs/runner.ts';
import type { JsonObject, MetadataStore, NewTierDecision, StoredTierModel, TierCandidate, TierDecision, TierPin } from '../metadata/index.ts';
import type { TierClass } from '../storage/port.ts';
import type { Replicator } from '../replication/replicator.ts';
import { DAYS_PER_MONTH, moveCost } from './cost.ts';
import { locationPricing, providerOf, type LocationPricing } from './location-pricing.ts';
import { FEATURE_NAMES, featureVector, tierModelFromJSON, type FileFeatures, type TierModel } from './model/index.ts';
import type { PriceTables } from './prices.ts';
import { applyRules, cheapestTier, dailyCost, type RuleDecision, type RuleOutcome, type RuleSettings } from './rules.ts';

const DAY_MS = 86_400_000;

export interface TieringSettings {
  /** Seconds between tiering runs; 0: on request only. */
  readonly intervalS: number;
  /** Runs record decisions without changing anything (the default outside demo mode). */
  readonly dryRun: boolean;
  readonly rules: RuleSettings;
}

export interface TieringDeps {
  readonly metadata: MetadataStore;
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  /** Roles allowed at each location: automatic moves only between locations with the same set. */
  readonly allowedRoles: Readonly<Record<string, readonly string[]>>;
  readonly prices: PriceTables;
  readonly replicator: Replicator;
  /** The replication job handlers (a tiering move runs the move handler). */
  readonly moveHandler: PayloadHandler;
  readonly settings: TieringSettings;
}

export interface Recommendation {
  readonly location: string;
  readonly key: string;
  readonly fileId: string;
  readonly version: number;
  readonly size: number;
  readonly tier: TierClass;
  /** The store's class name now (null: the store's default). */
  readonly storageClass: string | null;
  readonly recommended: TierClass;
  readonly recommendedClass: string | null;
  /** Where the recommendation puts the file: this location, or another for a move. */
  readonly toLocation: string;
  readonly kind: 'none' | 'tier' | 'move';
  readonly proposed: TierClass;
  readonly confidence: number;
  /** `model`: the model's proposal (with its version, or `default` for the shipped one); `rules`: cost-greedy. */
  readonly source: 'model' | 'rules';
  readonly modelVersion: number | null;
  readonly monthlyCost: number;
  readonly recommendedMonthlyCost: number;
  readonly expectedMonthlySaving: number;
  readonly moveCost: number;
  readonly reasons: readonly RuleOutcome[];
  readonly features: Readonly<Record<string, number | null>>;
}

export interface ActiveModel {
  readonly model: TierModel;
  /** The stored version, or null for the default model shipped with the project. */
  readonly version: number | null;
  readonly stored?: Omit<StoredTierModel, 'model'>;
}

export interface RunReport {
  readonly runId: string;
  readonly dryRun: boolean;
  readonly considered: number;
  readonly decisions: readonly TierDecision[];
  readonly expectedMonthlySaving: number;
}

export const DEFAULT_MODEL_URL = new URL('./model/default-model.json', import.meta.url);

/** The default model shipped with the project, or undefined when the checkout has none. */
export async function loadDefaultModel(url: URL = DEFAULT_MODEL_URL): Promise<TierModel | undefined> {
  let text: string;
  try {
    text = await readFile(url, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return tierModelFromJSON(JSON.parse(text));
}

const sameRoles = (a: readonly string[] = [], b: readonly string[] = []): boolean => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** The pin that applies to a key at a location: the longest matching prefix, a location's own before `*`. */
export function pinFor(pins: readonly TierPin[], location: string, key: string): TierPin | undefined {
  let best: TierPin | undefined;
  for (const pin of pins) {
    if (pin.location !== location && pin.location !== '*') continue;
    if (!key.startsWith(pin.prefix)) continue;
    if (best === undefined || pin.prefix.length > best.prefix.length || (pin.prefix.length === best.prefix.length && pin.location !== '*')) best = pin;
  }
  return best;
}

export class TieringService {
  readonly #deps: TieringDeps;
  readonly #pricing = new Map<string, LocationPricing>();
  #model: { key: string; active: ActiveModel | undefined } | undefined;
  #defaultModel: Promise<TierModel | undefined> | undefined;

  constructor(deps: TieringDeps) {
    this.#deps = deps;
  }

  /** The price tables the product bills with (the same as the simulator's). */
  get prices(): PriceTables {
    return this.#deps.prices;
  }

  get settings(): TieringSettings {
    return this.#deps.settings;
  }

  get locations(): readonly string[] {
    return [...this.#deps.stores.keys()];
  }

  pricing(location: string): LocationPricing {
    let p = this.#pricing.get(location);
    if (p === undefined) {
      const store = this.#deps.stores.get(location);
      if (store === undefined) throw new MovingDataError('not_found', `no location named '${location}'`, { details: { location } });
      const provider = providerOf(location, store.inner);
      p = locationPricing(location, store.inner, this.#deps.prices[provider]);
      this.#pricing.set(location, p);
    }
    return p;
  }

  /** The model in use: the newest stored one, else the shipped default, else none (rules alone). */
  async activeModel(): Promise<ActiveModel | undefined> {
    const [latest] = await this.#deps.metadata.tiering.listModels(1);
    const key = latest === undefined ? 'default' : `v${latest.version}`;
    if (this.#model?.key === key) return this.#model.active;
    let active: ActiveModel | undefined;
    if (latest !== undefined) {
      const stored = await this.#deps.metadata.tiering.latestModel();
      if (stored !== undefined) active = { model: tierModelFromJSON(stored.model), version: stored.version, stored: { ...stored, model: undefined } as Omit<StoredTierModel, 'model'> };
    } else {
      this.#defaultModel ??= loadDefaultModel();
      const model = await this.#defaultModel;
      if (model !== undefined) active = { model, version: null };
    }
    this.#model = { key, active };
    return active;
  }

  /** Forget the cached model (after training). */
  modelChanged(): void {
    this.#model = undefined;
  }

  /** What is known of a copy now, as the model's and the rules' inputs. */
  features(candidate: TierCandidate, pricing: LocationPricing, asOf: Date): FileFeatures {
    const days = (from: Date | null): number | null => (from === null ? null : Math.max(0, Math.floor((asOf.getTime() - from.getTime()) / DAY_MS)));
    const tier = pricing.tierOf(candidate.tier);
    const a = candidate.access;
    return {
      reads: a.reads,
      bytesRead: a.bytesRead,
      daysSinceLastRead: days(a.lastReadAt),
      daysSinceLastWrite: days(a.lastWriteAt ?? candidate.writtenAt),
      ageDays: days(candidate.writtenAt) ?? 0,
      size: candidate.size,
      currentTier: tier,
      daysInTier: days(candidate.tierSince ?? candidate.writtenAt) ?? 0,
      meanReadLatencyMs: a.meanLatencyMs30,
      latencySpikes: a.spikes30,
      costNow: dailyCost(pricing.table, tier, candidate.size, a.reads[2]) * DAYS_PER_MONTH,
    };
  }

  /** One copy's recommendation. */
  decide(candidate: TierCandidate, context: { readonly asOf: Date; readonly model: ActiveModel | undefined; readonly pins: readonly TierPin[] }): Recommendation {
    const pricing = this.pricing(candidate.location);
    const { table } = pricing;
    const f = this.features(candidate, pricing, context.asOf);
    const vector = featureVector(f);
    const readsPerMonth = f.reads[2];
    let proposed: TierClass;
    let confidence: number;
    if (context.model !== undefined) {
      const p = context.model.model.predict(vector);
      proposed = p.tier;
      confidence = p.probabilities[p.tier];
    } else {
      proposed = cheapestTier(table, f.size, readsPerMonth);
      confidence = 1;
    }
    const pin = pinFor(context.pins, candidate.location, candidate.key);
    const input = {
      size: f.size,
      table,
      current: f.currentTier,
      daysInTier: f.daysInTier,
      proposed,
      confidence,
      readsPerMonth,
      latencySpikes: f.latencySpikes,
      idleDays: f.daysSinceLastRead ?? f.ageDays,
      neverRead: f.daysSinceLastRead === null,
      ...(pin === undefined ? {} : { pin: pin.tier }),
    };
    let decision: RuleDecision = applyRules(input, this.#deps.settings.rules);
    let toLocation = candidate.location;
    let kind: Recommendation['kind'] = decision.tier === f.currentTier ? 'none' : 'tier';
    let recommendedCost = dailyCost(table, decision.tier, f.size, readsPerMonth) * DAYS_PER_MONTH;
    let saving = decision.expectedMonthlySaving;
    let cost = decision.moveCost;
    const reasons: RuleOutcome[] = [...decision.outcomes];
    if (kind === 'tier' && !pricing.offered.includes(decision.tier)) {
      const move = this.#moveFor(candidate, pricing, f, decision.tier, readsPerMonth);
      if (move !== undefined) {
        toLocation = move.location;
        kind = 'move';
        recommendedCost = move.monthly;
        saving = f.costNow - move.monthly;
        cost = move.cost;
        reasons.push({ rule: 'payback', verdict: 'applied', detail: `${candidate.location} offers no ${decision.tier} tier: move to ${move.location} (same roles), costs $${move.cost.toFixed(6)}, saves $${(saving * (this.#deps.settings.rules.horizonDays / DAYS_PER_MONTH)).toFixed(6)} over ${this.#deps.settings.rules.horizonDays} days` });
      } else {
        // The warmest tier here that is no warmer than asked for, through the rules again.
        const fallback = [...pricing.offered].reverse().find((t) => order(t) <= order(decision.tier)) ?? 'hot';
        reasons.push({ rule: 'payback', verdict: 'blocked', detail: `${candidate.location} offers no ${decision.tier} tier and no location with the same roles pays back a move; ${fallback} instead` });
        decision = applyRules({ ...input, proposed: fallback, confidence: Math.max(confidence, this.#deps.settings.rules.minConfidence) }, this.#deps.settings.rules);
        kind = decision.tier === f.currentTier ? 'none' : 'tier';
        recommendedCost = dailyCost(table, decision.tier, f.size, readsPerMonth) * DAYS_PER_MONTH;
        saving = decision.expectedMonthlySaving;
        cost = decision.moveCost;
      }
    }
    const features = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, Number.isNaN(vector[i]!) ? null : vector[i]!]));
    const recommended = decision.tier;
    const toPricing = toLocation === candidate.location ? pricing : this.pricing(toLocation);
    return {
      location: candidate.location,
      key: candidate.key,
      fileId: candidate.fileId,
      version: candidate.version,
      size: candidate.size,
      tier: f.currentTier,
      storageClass: candidate.tier,
      recommended,
      recommendedClass: toPricing.nativeName(recommended) ?? null,
      toLocation,
      kind,
      proposed,
      confidence,
      source: context.model === undefined ? 'rules' : 'model',
      modelVersion: context.model?.version ?? null,
      monthlyCost: f.costNow,
      recommendedMonthlyCost: kind === 'none' ? f.costNow : recommendedCost,
      expectedMonthlySaving: kind === 'none' ? 0 : saving,
      moveCost: kind === 'none' ? 0 : cost,
      reasons: kind === 'move' ? reasons : decision.outcomes,
      features,
    };
  }

  /** The cheapest location with the same roles that offers `tier` and pays back the move within the horizon. */
  #moveFor(candidate: TierCandidate, from: LocationPricing, f: FileFeatures, tier: TierClass, readsPerMonth: number): { location: string; monthly: number; cost: number } | undefined {
    const roles = this.#deps.allowedRoles[candidate.location];
    const horizon = this.#deps.settings.rules.horizonDays;
    let best: { location: string; monthly: number; cost: number } | undefined;
    for (const location of this.locations) {
      if (location === candidate.location || !sameRoles(roles, this.#deps.allowedRoles[location])) continue;
      const to = this.pricing(location);
      if (!to.offered.includes(tier) || to.offline(tier)) continue;
      const monthly = dailyCost(to.table, tier, f.size, readsPerMonth) * DAYS_PER_MONTH;
      const tables = { ...this.#deps.prices, [from.provider]: from.table, [to.provider]: to.table } as PriceTables;
      const cost = moveCost(tables, f.size, { provider: from.provider, className: from.table.tiers[f.currentTier] }, { provider: to.provider, className: to.table.tiers[tier] }, f.daysInTier).total;
      const earned = ((f.costNow - monthly) / DAYS_PER_MONTH) * horizon;
      if (earned <= cost) continue;
      if (best === undefined || monthly + cost / (horizon / DAYS_PER_MONTH) < best.monthly + best.cost / (horizon / DAYS_PER_MONTH)) best = { location, monthly, cost };
    }
    return best;
  }

  /** A page of recommendations at one location, in key order. */
  async recommend(query: { readonly location: string; readonly prefix?: string; readonly afterKey?: string; readonly limit?: number; readonly asOf?: Date }): Promise<{ items: Recommendation[]; nextKey?: string }> {
    this.pricing(query.location);
    const asOf = query.asOf ?? new Date();
    const limit = query.limit ?? 100;
    const [candidates, model, pins] = await Promise.all([
      this.#deps.metadata.tiering.candidates({ location: query.location, asOf, limit, ...(query.prefix === undefined ? {} : { prefix: query.prefix }), ...(query.afterKey === undefined ? {} : { afterKey: query.afterKey }) }),
      this.activeModel(),
      this.#deps.metadata.tiering.listPins(),
    ]);
    const items = candidates.map((c) => this.decide(c, { asOf, model, pins }));
    const last = candidates.at(-1);
    return { items, ...(candidates.length === limit && last !== undefined ? { nextKey: last.key } : {}) };
  }

  /** Every recommendation at the given locations (all by default), page by page. */
  async *recommendAll(options: { readonly locations?: readonly string[]; readonly prefix?: string; readonly asOf?: Date; readonly pageSize?: number } = {}): AsyncGenerator<Recommendation> {
    for (const location of options.locations ?? this.locations) {
      let afterKey: string | undefined;
      do {
        const page = await this.recommend({ location, limit: options.pageSize ?? 1000, ...(afterKey === undefined ? {} : { afterKey }), ...(options.prefix === undefined ? {} : { prefix: options.prefix }), ...(options.asOf === undefined ? {} : { asOf: options.asOf }) });
        yield* page.items;
        afterKey = page.nextKey;
      } while (afterKey !== undefined);
    }
  }

  /**
   * The tiering run: records a decision for every recommendation that changes something and,
   * unless a dry run, queues its job.
   */
  async run(jobs: JobRunner, options: { readonly principal: string; readonly dryRun?: boolean; readonly locations?: readonly string[]; readonly prefix?: string; readonly limit?: number } = { principal: 'system' }): Promise<RunReport> {
    const dryRun = options.dryRun ?? this.#deps.settings.dryRun;
    const runId = randomUUID();
    let considered = 0;
    const changes: NewTierDecision[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    for await (const r of this.recommendAll({ ...(options.locations === undefined ? {} : { locations: options.locations }), ...(options.prefix === undefined ? {} : { prefix: options.prefix }) })) {
      considered += 1;
      if (r.kind === 'none') continue;
      if (changes.length >= limit) continue;
      changes.push({
        runId,
        location: r.location,
        key: r.key,
        fileId: r.fileId,
        version: r.version,
        kind: r.kind,
        fromTier: r.tier,
        toTier: r.recommended,
        toLocation: r.toLocation,
        proposed: r.proposed,
        confidence: r.confidence,
        modelVersion: r.modelVersion,
        inputs: r.features,
        rules: r.reasons.map((o) => ({ rule: o.rule, verdict: o.verdict, detail: o.detail })),
        expectedMonthlySaving: r.expectedMonthlySaving,
        moveCost: r.moveCost,
        state: dryRun ? 'dry_run' : 'queued',
        createdBy: options.principal,
      });
    }
    const recorded: TierDecision[] = [];
    for (let i = 0; i < changes.length; i += 1000) recorded.push(...(await this.#deps.metadata.tiering.recordDecisions(changes.slice(i, i + 1000))));
    let decisions = recorded;
    if (!dryRun && recorded.length > 0) {
      const outcomes = await jobs.submitMany(
        recorded.map((d) => ({ kind: 'tier', payload: { decision_id: d.id, principal: options.principal }, options: { dedupeKey: `tier:${d.location}:${d.fileId}` } })),
      );
      decisions = await Promise.all(recorded.map((d, i) => this.#deps.metadata.tiering.updateDecision(d.id, { state: 'queued', jobId: outcomes[i]!.id })));
    }
    return { runId, dryRun, considered, decisions, expectedMonthlySaving: decisions.reduce((s, d) => s + d.expectedMonthlySaving, 0) };
  }

  /** A user's request: change one file's tier at a location now (archive and restores included). */
  async request(jobs: JobRunner, principal: string, location: string, key: string, tier: TierClass, options: { readonly waitMs?: number } = {}): Promise<{ decision: TierDecision; job: Awaited<ReturnType<JobRunner['submit']>> }> {
    const pricing = this.pricing(location);
    const native = pricing.nativeName(tier);
    if (native === undefined) throw new MovingDataError('unsupported', `${location} has no ${tier} tier (it offers ${this.#deps.stores.get(location)?.features.tiers.map((t) => t.name).join(', ') || 'none'})`, { retryable: false });
    const [candidate] = await this.#deps.metadata.tiering.candidates({ location, prefix: key, limit: 1, afterKey: '' }).then((rows) => rows.filter((r) => r.key === key));
    if (candidate === undefined) throw new MovingDataError('not_found', `no committed copy of ${key} at ${location}`, { retryable: false, details: { location, key } });
    const f = this.features(candidate, pricing, new Date());
    const [decision] = await this.#deps.metadata.tiering.recordDecisions([
      {
        runId: `request-${randomUUID()}`,
        location,
        key,
        fileId: candidate.fileId,
        version: candidate.version,
        kind: 'tier',
        fromTier: f.currentTier,
        toTier: tier,
        toLocation: location,
        proposed: tier,
        confidence: 1,
        modelVersion: null,
        inputs: Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, Number.isNaN(featureVector(f)[i]!) ? null : featureVector(f)[i]!])),
        rules: [{ rule: 'request', verdict: 'applied', detail: `requested by ${principal}` }],
        expectedMonthlySaving: (dailyCost(pricing.table, f.currentTier, f.size, f.reads[2]) - dailyCost(pricing.table, tier, f.size, f.reads[2])) * DAYS_PER_MONTH,
        moveCost: 0,
        state: 'queued',
        createdBy: principal,
      },
    ]);
    const job = await jobs.submit('tier', { decision_id: decision!.id, principal }, { dedupeKey: `tier:${location}:${candidate.fileId}`, ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }) });
    const updated = await this.#deps.metadata.tiering.updateDecision(decision!.id, { state: job.state === 'succeeded' ? 'applied' : job.state === 'failed' || job.state === 'dead' ? 'failed' : 'queued', jobId: job.id, ...(job.lastError === null ? {} : { error: job.lastError }) });
    return { decision: updated, job };
  }

  /** The job handlers: `tier` (one decision) and `tiering` (a run). */
  handlers(jobs: () => JobRunner): Record<'tier' | 'tiering', PayloadHandler> {
    return {
      tier: async (payload, context) => this.#apply(payloadText(payload, 'decision_id'), optionalPayloadText(payload, 'principal') ?? 'system', context),
      tiering: async (payload) => {
        const report = await this.run(jobs(), { principal: optionalPayloadText(payload, 'principal') ?? 'system', ...(typeof payload['dry_run'] === 'boolean' ? { dryRun: payload['dry_run'] } : {}) });
        return { run_id: report.runId, dry_run: report.dryRun, considered: report.considered, decisions: report.decisions.length, expected_monthly_saving: report.expectedMonthlySaving };
      },
    };
  }

  async #apply(decisionId: string, principal: string, context: PayloadContext): Promise<JsonObject> {
    const tiering = this.#deps.metadata.tiering;
    const decision = await tiering.getDecision(decisionId);
    if (decision.state === 'applied') return { decision_id: decision.id, state: 'applied' };
    const to = this.pricing(decision.toLocation);
    const native = to.nativeName(decision.toTier as TierClass);
    try {
      if (native === undefined) throw new MovingDataError('unsupported', `${decision.toLocation} has no ${decision.toTier} tier`, { retryable: false });
      const details = { decision_id: decision.id, expected_monthly_saving: decision.expectedMonthlySaving, confidence: decision.confidence };
      if (decision.kind === 'tier') {
        await this.#deps.replicator.changeTier(principal, decision.fileId, decision.location, native, { version: decision.version, signal: context.signal, details });
      } else {
        await this.#deps.moveHandler({ file_id: decision.fileId, from: decision.location, to: decision.toLocation, tier: native, version: decision.version, principal }, context);
      }
      await tiering.updateDecision(decision.id, { state: 'applied' });
      return { decision_id: decision.id, state: 'applied', kind: decision.kind, to_location: decision.toLocation, tier: decision.toTier };
    } catch (err) {
      await tiering.updateDecision(decision.id, { state: 'failed', error: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Request a tiering run every `intervalMs` (a `tiering` job, one at a time across servers);
   * returns the stop function. The first comes after one interval.
   */
  schedule(jobs: JobRunner, intervalMs: number, onError: (err: unknown) => void): () => void {
    const timer = setInterval(() => {
      jobs.submit('tiering', { principal: 'system' }, { dedupeKey: 'tiering', maxAttempts: 3 }).catch(onError);
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

const order = (t: TierClass): number => ['hot', 'cool', 'cold', 'archive'].indexOf(t);

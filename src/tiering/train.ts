/**
 * POST /predictive/train (the seed's endpoint): what the model learns from, and its storage.
 *
 * - `records` in the trace format (trace.ts), each with an optional `label` (a tier). With
 *   `auto_label` (the default when no record carries a label), the labels come from the
 *   offline optimum over each record's history (training.ts): the model learns to imitate the
 *   cheapest schedule in hindsight from what is known online. Otherwise every record needs a
 *   label, and its features are those at the end of its history.
 * - No records: the stored access statistics, each committed copy's last 90 days of reads as a
 *   trace, auto-labelled the same way.
 * The model is trained on 80 % and measured on the held-out 20 % (accuracy, log loss,
 * confusion matrix), then stored as the next version: the one in use from then on.
 */
import { MovingDataError } from '../errors.ts';
import type { JsonObject, MetadataStore, StoredTierModel } from '../metadata/index.ts';
import { DAYS_PER_MONTH } from './cost.ts';
import { featureVector, TIERS, trainAndEvaluate, type TierRecord } from './model/index.ts';
import type { PriceTables, Provider } from './prices.ts';
import { dailyCost } from './rules.ts';
import type { TieringService } from './service.ts';
import { traceFeatures } from './trace-features.ts';
import { parseTrace, type Trace, type TraceObject } from './trace.ts';
import { trainingRecordsFromTrace } from './training.ts';

/** Days of history the stored statistics keep per file (access windows). */
const STATS_DAYS = 90;
/** At most this many stored files feed one training (a sample, in key order per location). */
const STATS_MAX_FILES = 20_000;

export interface TrainRequest {
  readonly principal: string;
  readonly records?: ReadonlyArray<{ readonly key: string; readonly size: number; readonly created_day: number; readonly reads: ReadonlyArray<readonly number[]>; readonly label?: string }>;
  readonly auto_label?: boolean;
  readonly days?: number;
  readonly provider?: Provider;
}

export interface TrainOutcome {
  readonly stored: StoredTierModel;
  readonly labels: Record<string, number>;
}

/** Records in the trace format as a validated trace (the trace parser's checks and messages). */
export function traceOfRecords(records: NonNullable<TrainRequest['records']>, days: number | undefined, provider: Provider): Trace {
  const lastDay = records.reduce((m, r) => Math.max(m, r.created_day, ...r.reads.map((x) => x[0] ?? 0)), 0);
  const header = { days: days ?? lastDay + 1, provider };
  const lines = [JSON.stringify(header), ...records.map((r) => JSON.stringify({ key: r.key, size: r.size, created_day: r.created_day, reads: r.reads }))];
  try {
    return parseTrace(lines.join('\n'));
  } catch (err) {
    throw new MovingDataError('invalid_argument', `records: ${err instanceof Error ? err.message : String(err)}`, { retryable: false, cause: err });
  }
}

/** Labelled records at the end of each history: features known on day `days`, the caller's label. */
function labelledRecords(trace: Trace, labels: ReadonlyArray<string | undefined>, tables: PriceTables): TierRecord[] {
  return trace.objects.map((o, i) => {
    const label = labels[i];
    if (label === undefined) throw new MovingDataError('invalid_argument', `records[${i}] (${o.key}) has no label; send labels on every record or auto_label: true`, { retryable: false });
    const f = traceFeatures({ size: o.size, createdDay: o.createdDay, reads: o.reads, day: trace.days, current: null, daysInClass: 0, table: tables[trace.provider] ?? tables.aws });
    return { features: featureVector({ ...f, daysInTier: f.ageDays, costNow: dailyCost(tables.aws, 'hot', o.size, f.reads[2]) * DAYS_PER_MONTH }), label };
  });
}

/**
 * The stored access statistics as a trace: every committed copy's last 90 days (a sample of at
 * most `maxFiles`, default 20,000, and at most `perLocation` from each location).
 */
export async function traceOfStats(metadata: MetadataStore, tiering: TieringService, asOf: Date = new Date(), maxFiles: number = STATS_MAX_FILES, perLocation: number = maxFiles): Promise<Trace> {
  const objects: TraceObject[] = [];
  const today = Date.UTC(asOf.getUTCFullYear(), asOf.getUTCMonth(), asOf.getUTCDate());
  const firstDay = today - (STATS_DAYS - 1) * 86_400_000;
  outer: for (const location of tiering.locations) {
    let afterKey: string | undefined;
    let here = 0;
    for (;;) {
      const page = await metadata.tiering.candidates({ location, asOf, limit: 1000, ...(afterKey === undefined ? {} : { afterKey }) });
      for (const c of page) {
        const summary = await metadata.accessStats.summary(location, c.key, new Date(firstDay).toISOString().slice(0, 10));
        const reads = summary.days
          .map((d) => [Math.round((Date.parse(`${d.day}T00:00:00Z`) - firstDay) / 86_400_000), d.reads] as const)
          .filter(([day, n]) => day >= 0 && day < STATS_DAYS && n > 0);
        const written = Date.UTC(c.writtenAt.getUTCFullYear(), c.writtenAt.getUTCMonth(), c.writtenAt.getUTCDate());
        const createdDay = Math.max(0, Math.min(STATS_DAYS - 1, Math.round((written - firstDay) / 86_400_000)));
        objects.push({ key: `${location}/${c.key}`, size: c.size, createdDay, reads: reads.filter(([day]) => day >= createdDay) });
        if (objects.length >= maxFiles) break outer;
        if ((here += 1) >= perLocation) continue outer;
      }
      if (page.length < 1000) break;
      afterKey = page.at(-1)!.key;
    }
  }
  return { days: STATS_DAYS, provider: 'aws', objects };
}

export async function trainFromRequest(deps: { readonly metadata: MetadataStore; readonly tiering: TieringService }, request: TrainRequest): Promise<TrainOutcome> {
  const tables = deps.tiering.prices;
  let records: TierRecord[];
  let trainedOn: string;
  if (request.records !== undefined && request.records.length > 0) {
    const trace = traceOfRecords(request.records, request.days, request.provider ?? 'aws');
    const autoLabel = request.auto_label ?? !request.records.some((r) => r.label !== undefined);
    records = autoLabel ? trainingRecordsFromTrace(trace, tables) : labelledRecords(trace, request.records.map((r) => r.label), tables);
    trainedOn = autoLabel ? 'records:auto_label' : 'records:labels';
  } else {
    if (request.auto_label === false) throw new MovingDataError('invalid_argument', 'the stored statistics carry no labels: train on them with auto_label (the default), or send labelled records', { retryable: false });
    const trace = await traceOfStats(deps.metadata, deps.tiering);
    records = trainingRecordsFromTrace(trace, tables);
    trainedOn = 'access-stats';
  }
  if (records.length === 0) throw new MovingDataError('invalid_argument', 'nothing to train on: no records, and no committed files in the access statistics', { retryable: false });
  const { model, metrics } = trainAndEvaluate(records, { seed: 1 });
  const labels: Record<string, number> = Object.fromEntries(TIERS.map((t) => [t, 0]));
  for (const r of records) labels[r.label === 'archive' ? 'cold' : r.label] = (labels[r.label === 'archive' ? 'cold' : r.label] ?? 0) + 1;
  const stored = await deps.metadata.tiering.saveModel({
    kind: model.kind,
    trainedOn,
    records: records.length,
    metrics: {
      held_out: metrics.count,
      accuracy: metrics.accuracy,
      log_loss: metrics.logLoss,
      confusion: metrics.confusion,
      labels: [...metrics.labels],
      ...(model.fallbackReason === undefined ? {} : { fallback_reason: model.fallbackReason }),
    },
    model: model.toJSON() as unknown as JsonObject,
    createdBy: request.principal,
  });
  return { stored, labels };
}

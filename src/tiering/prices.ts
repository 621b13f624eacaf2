/**
 * Price tables: one dated JSON file per provider under ./prices/, each figure carrying the page
 * it came from, the date it was recorded and whether it was confirmed against that page.
 *
 * Why data files and not constants: prices change, and customers negotiate theirs. The loader
 * validates every figure (errors name the file and the field) and merges an optional override
 * file (negotiated prices) over the defaults, so the cost model never sees a half-valid table.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { MovingDataError } from '../errors.ts';
import type { TierClass } from '../storage/port.ts';

export type Provider = 'aws' | 'azure' | 'gcp';
export const PROVIDERS: readonly Provider[] = ['aws', 'azure', 'gcp'];
export const TIER_CLASSES: readonly TierClass[] = ['hot', 'cool', 'cold', 'archive'];

/** One price with its provenance. */
export interface Figure {
  readonly value: number;
  /** Key into the table's `sources` (the page the figure came from), or `override:<file>`. */
  readonly src: string;
  /** When the figure was recorded (YYYY-MM-DD). */
  readonly date: string;
  /** True only when the figure was read on the provider's own page (or a stored copy of it). */
  readonly confirmed: boolean;
  readonly note?: string;
}

export interface ClassPrices {
  /** Higher is colder; decides whether a change of class is a transition or a read-back. */
  readonly coldness: number;
  /** Objects must be restored before they can be read (S3 Glacier, Azure Archive). */
  readonly offline: boolean;
  readonly storagePerGbMonth: Figure;
  readonly retrievalPerGb: Figure;
  readonly writePer1000: Figure;
  readonly readPer1000: Figure;
  /** Early deletion: leaving before this many days bills the remaining days at the storage price. */
  readonly minDurationDays: Figure;
  readonly minBillableBytes: Figure;
  /** Lifecycle transition (or tier change) into this class, per 1,000 objects. */
  readonly transitionInPer1000: Figure;
  /** Restore requests of offline classes, per 1,000. */
  readonly restorePer1000?: Figure;
  /** Index and metadata billed per object on top of its size (S3 Glacier Flexible, Deep Archive). */
  readonly perObjectOverheadBytes?: Figure;
}

export interface AutoTierLevel {
  readonly name: string;
  readonly afterDaysIdle: Figure;
  readonly storagePerGbMonth: Figure;
}

/** Provider-run auto-tiering (S3 Intelligent-Tiering, GCS Autoclass). */
export interface AutoTiering {
  readonly monitoringPer1000ObjectsMonth: Figure;
  readonly minMonitoredBytes: Figure;
  readonly levels: readonly AutoTierLevel[];
}

export interface PriceTable {
  readonly provider: Provider;
  readonly region: string;
  readonly currency: 'USD';
  readonly asOf: string;
  readonly note?: string;
  readonly sources: Readonly<Record<string, string>>;
  readonly tiers: Readonly<Record<TierClass, string>>;
  readonly classes: Readonly<Record<string, ClassPrices>>;
  readonly autoTiering: Readonly<Record<string, AutoTiering>>;
  /** Per GB leaving this provider, by destination (`internet` or another provider). */
  readonly egressPerGb: Readonly<Partial<Record<Provider | 'internet', Figure>>>;
}

export type PriceTables = Readonly<Record<Provider, PriceTable>>;

const CLASS_FIGURES = [
  'storagePerGbMonth',
  'retrievalPerGb',
  'writePer1000',
  'readPer1000',
  'minDurationDays',
  'minBillableBytes',
  'transitionInPer1000',
] as const;
const OPTIONAL_CLASS_FIGURES = ['restorePer1000', 'perObjectOverheadBytes'] as const;
const INTEGER_FIGURES: ReadonlySet<string> = new Set(['minDurationDays', 'minBillableBytes', 'perObjectOverheadBytes', 'afterDaysIdle', 'minMonitoredBytes']);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function fail(file: string, field: string, why: string): never {
  throw new MovingDataError('config_invalid', `${file}: ${field}: ${why}`, { details: { file, field } });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function record(v: unknown, file: string, field: string): Record<string, unknown> {
  if (!isRecord(v)) fail(file, field, 'must be an object');
  return v;
}

function str(v: unknown, file: string, field: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(file, field, 'must be a non-empty string');
  return v;
}

function figure(v: unknown, file: string, field: string, sources: Readonly<Record<string, string>>): Figure {
  const o = record(v, file, field);
  const value = o['value'];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(file, `${field}.value`, 'must be a finite number ≥ 0');
  }
  const leaf = field.slice(field.lastIndexOf('.') + 1);
  if (INTEGER_FIGURES.has(leaf) && !Number.isInteger(value)) fail(file, `${field}.value`, 'must be an integer');
  const src = str(o['src'], file, `${field}.src`);
  if (!src.startsWith('override:') && sources[src] === undefined) fail(file, `${field}.src`, `unknown source "${src}"`);
  const date = str(o['date'], file, `${field}.date`);
  if (!DATE.test(date)) fail(file, `${field}.date`, 'must be YYYY-MM-DD');
  if (typeof o['confirmed'] !== 'boolean') fail(file, `${field}.confirmed`, 'must be true or false');
  const note = o['note'];
  if (note !== undefined && typeof note !== 'string') fail(file, `${field}.note`, 'must be a string');
  return Object.freeze({ value, src, date, confirmed: o['confirmed'], ...(note === undefined ? {} : { note }) });
}

function classPrices(v: unknown, file: string, field: string, sources: Readonly<Record<string, string>>): ClassPrices {
  const o = record(v, file, field);
  const known = new Set<string>(['coldness', 'offline', ...CLASS_FIGURES, ...OPTIONAL_CLASS_FIGURES]);
  for (const k of Object.keys(o)) if (!known.has(k)) fail(file, `${field}.${k}`, 'unknown field');
  const coldness = o['coldness'];
  if (typeof coldness !== 'number' || !Number.isInteger(coldness) || coldness < 0) fail(file, `${field}.coldness`, 'must be an integer ≥ 0');
  if (typeof o['offline'] !== 'boolean') fail(file, `${field}.offline`, 'must be true or false');
  const out: Record<string, unknown> = { coldness, offline: o['offline'] };
  for (const k of CLASS_FIGURES) out[k] = figure(o[k], file, `${field}.${k}`, sources);
  for (const k of OPTIONAL_CLASS_FIGURES) if (o[k] !== undefined) out[k] = figure(o[k], file, `${field}.${k}`, sources);
  return Object.freeze(out) as unknown as ClassPrices;
}

function autoTiering(v: unknown, file: string, field: string, sources: Readonly<Record<string, string>>): AutoTiering {
  const o = record(v, file, field);
  const levels = o['levels'];
  if (!Array.isArray(levels) || levels.length === 0) fail(file, `${field}.levels`, 'must be a non-empty array');
  return Object.freeze({
    monitoringPer1000ObjectsMonth: figure(o['monitoringPer1000ObjectsMonth'], file, `${field}.monitoringPer1000ObjectsMonth`, sources),
    minMonitoredBytes: figure(o['minMonitoredBytes'], file, `${field}.minMonitoredBytes`, sources),
    levels: Object.freeze(
      levels.map((l: unknown, i) => {
        const lo = record(l, file, `${field}.levels[${i}]`);
        return Object.freeze({
          name: str(lo['name'], file, `${field}.levels[${i}].name`),
          afterDaysIdle: figure(lo['afterDaysIdle'], file, `${field}.levels[${i}].afterDaysIdle`, sources),
          storagePerGbMonth: figure(lo['storagePerGbMonth'], file, `${field}.levels[${i}].storagePerGbMonth`, sources),
        });
      }),
    ),
  });
}

/** Validates one provider's table (already parsed JSON). `file` only labels errors. */
export function parsePriceTable(json: unknown, file: string, expected?: Provider): PriceTable {
  const o = record(json, file, '(root)');
  const provider = o['provider'];
  if (typeof provider !== 'string' || !(PROVIDERS as readonly string[]).includes(provider)) {
    fail(file, 'provider', `must be one of ${PROVIDERS.join(', ')}`);
  }
  if (expected !== undefined && provider !== expected) fail(file, 'provider', `must be "${expected}"`);
  if (o['currency'] !== 'USD') fail(file, 'currency', 'must be "USD"');
  const asOf = str(o['asOf'], file, 'asOf');
  if (!DATE.test(asOf)) fail(file, 'asOf', 'must be YYYY-MM-DD');
  const sourcesIn = record(o['sources'], file, 'sources');
  const sources: Record<string, string> = {};
  for (const [k, url] of Object.entries(sourcesIn)) {
    const u = str(url, file, `sources.${k}`);
    if (!u.startsWith('https://')) fail(file, `sources.${k}`, 'must be an https:// address');
    sources[k] = u;
  }
  const classesIn = record(o['classes'], file, 'classes');
  const classes: Record<string, ClassPrices> = {};
  for (const [name, c] of Object.entries(classesIn)) classes[name] = classPrices(c, file, `classes.${name}`, sources);
  const tiersIn = record(o['tiers'], file, 'tiers');
  const tiers = {} as Record<TierClass, string>;
  for (const t of TIER_CLASSES) {
    const name = str(tiersIn[t], file, `tiers.${t}`);
    if (classes[name] === undefined) fail(file, `tiers.${t}`, `names class "${name}", which is not in classes`);
    tiers[t] = name;
  }
  const autoIn = o['autoTiering'] === undefined ? {} : record(o['autoTiering'], file, 'autoTiering');
  const auto: Record<string, AutoTiering> = {};
  for (const [name, a] of Object.entries(autoIn)) auto[name] = autoTiering(a, file, `autoTiering.${name}`, sources);
  const egressIn = record(o['egressPerGb'], file, 'egressPerGb');
  const egress: Partial<Record<Provider | 'internet', Figure>> = {};
  for (const [dest, fig] of Object.entries(egressIn)) {
    if (dest !== 'internet' && !(PROVIDERS as readonly string[]).includes(dest)) fail(file, `egressPerGb.${dest}`, 'unknown destination');
    egress[dest as Provider | 'internet'] = figure(fig, file, `egressPerGb.${dest}`, sources);
  }
  const note = o['note'];
  return Object.freeze({
    provider: provider as Provider,
    region: str(o['region'], file, 'region'),
    currency: 'USD',
    asOf,
    ...(typeof note === 'string' ? { note } : {}),
    sources: Object.freeze(sources),
    tiers: Object.freeze(tiers),
    classes: Object.freeze(classes),
    autoTiering: Object.freeze(auto),
    egressPerGb: Object.freeze(egress),
  });
}

/**
 * Merges an override over defaults. Override leaves may be a plain number (a negotiated price:
 * it keeps the field, takes `src: override:<file>` and `confirmed: true`) or a whole figure.
 * Unknown providers, classes and fields are refused, so a typo never silently keeps list price.
 */
function mergeOverride(base: unknown, over: unknown, file: string, path: string, date: string): unknown {
  if (typeof over === 'number') {
    if (!isRecord(base) || typeof base['value'] !== 'number') fail(file, path, 'a number only replaces a price figure');
    return { value: over, src: `override:${file}`, date, confirmed: true, note: 'negotiated price (override file)' };
  }
  if (isRecord(over)) {
    if (base === undefined) return over;
    if (!isRecord(base)) fail(file, path, 'cannot replace a value with an object');
    if (typeof base['value'] === 'number' && 'value' in over) return { ...base, ...over };
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) {
      const sub = path === '' ? k : `${path}.${k}`;
      // New entries are allowed only where a table is open-ended (a source, an egress destination).
      const open = path.endsWith('.sources') || path.endsWith('.egressPerGb');
      if (!(k in base) && !open) fail(file, sub, path.endsWith('.classes') ? 'unknown storage class' : 'unknown field');
      out[k] = mergeOverride(base[k], v, file, sub, date);
    }
    return out;
  }
  if (base !== undefined && typeof base !== typeof over) fail(file, path, `must be a ${typeof base}`);
  return over;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MovingDataError('config_invalid', `${file}: cannot read price file`, { cause: err, details: { file } });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MovingDataError('config_invalid', `${file}: not valid JSON (${(err as Error).message})`, { cause: err, details: { file } });
  }
}

export interface LoadPriceTablesOptions {
  /** JSON `{ "aws": { "classes": { "STANDARD": { "storagePerGbMonth": 0.021 } } }, ... }`. */
  readonly overrideFile?: string;
  /** Folder holding aws.json, azure.json and gcp.json; defaults to the bundled tables. */
  readonly dir?: string;
}

export async function loadPriceTables(options: LoadPriceTablesOptions = {}): Promise<PriceTables> {
  const dir = options.dir ?? fileURLToPath(new URL('./prices/', import.meta.url));
  const raw: Record<string, unknown> = {};
  for (const p of PROVIDERS) raw[p] = await readJson(`${dir.endsWith('/') ? dir : `${dir}/`}${p}.json`);
  if (options.overrideFile !== undefined) {
    const file = options.overrideFile;
    const over = record(await readJson(file), file, '(root)');
    const today = new Date().toISOString().slice(0, 10);
    for (const [p, o] of Object.entries(over)) {
      if (!(PROVIDERS as readonly string[]).includes(p)) fail(file, p, `unknown provider (one of ${PROVIDERS.join(', ')})`);
      raw[p] = mergeOverride(raw[p], record(o, file, p), file, p, today);
    }
    // Errors in merged tables name the override file: the defaults were valid on their own.
    const tables = {} as Record<Provider, PriceTable>;
    for (const p of PROVIDERS) {
      const label = over[p] === undefined ? `${p}.json` : `${file} [${p}]`;
      tables[p] = parsePriceTable(raw[p], label, p);
    }
    return Object.freeze(tables);
  }
  const tables = {} as Record<Provider, PriceTable>;
  for (const p of PROVIDERS) tables[p] = parsePriceTable(raw[p], `${p}.json`, p);
  return Object.freeze(tables);
}

/** The class a provider uses for one of our tiers. */
export function classForTier(table: PriceTable, tier: TierClass): ClassPrices {
  const c = table.classes[table.tiers[tier]];
  if (c === undefined) throw new MovingDataError('internal', `${table.provider}: tier ${tier} has no class`);
  return c;
}

export function priceClass(table: PriceTable, name: string): ClassPrices {
  const c = table.classes[name];
  if (c === undefined) throw new MovingDataError('invalid_argument', `${table.provider} has no storage class "${name}"`);
  return c;
}

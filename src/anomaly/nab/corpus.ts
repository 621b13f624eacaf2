/**
 * Reading a NAB checkout's layout (data/, labels/combined_windows.json, config/profiles.json,
 * results/<detector>/...): the series, their windows, the profiles and published detectors'
 * result files, in the shapes the scorer (scorer.ts) takes. Only the benchmark and the tests use
 * it; timestamps are NAB's `YYYY-MM-DD HH:MM:SS[.ffffff]`, read as UTC milliseconds.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnomalyWindow, CostMatrix, Profiles, SeriesScores } from './scorer.ts';

export interface NabSeries {
  /** e.g. `realKnownCause/nyc_taxi.csv`, the key of combined_windows.json. */
  readonly name: string;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;

/** `2014-02-19 10:50:00[.000000]` (UTC) → ms since the epoch. */
export function parseNabTimestamp(text: string): number {
  const m = TIMESTAMP.exec(text.trim());
  if (m === null) throw new Error(`nab: bad timestamp '${text}'`);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) + ms;
}

/** ms since the epoch → `YYYY-MM-DD HH:MM:SS`, as NAB writes timestamps. */
export function formatNabTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** The header and the rows of a small CSV file without quoting (NAB's files). */
async function readCsv(path: string): Promise<{ header: string[]; rows: string[][] }> {
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/).filter((l) => l.length > 0);
  const [head, ...rest] = lines;
  if (head === undefined) throw new Error(`nab: ${path} is empty`);
  return { header: head.split(','), rows: rest.map((l) => l.split(',')) };
}

function column(header: readonly string[], name: string, path: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw new Error(`nab: ${path} has no column '${name}'`);
  return i;
}

/** Every `data/<category>/<file>.csv`, sorted by name. */
export async function readNabData(nabDir: string): Promise<NabSeries[]> {
  const dataDir = join(nabDir, 'data');
  const out: NabSeries[] = [];
  for (const category of (await readdir(dataDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const file of (await readdir(join(dataDir, category))).filter((f) => f.endsWith('.csv')).sort()) {
      const path = join(dataDir, category, file);
      const { header, rows } = await readCsv(path);
      const t = column(header, 'timestamp', path);
      const v = column(header, 'value', path);
      out.push({
        name: `${category}/${file}`,
        timestamps: Float64Array.from(rows, (r) => parseNabTimestamp(r[t] ?? '')),
        values: Float64Array.from(rows, (r) => Number(r[v])),
      });
    }
  }
  return out;
}

export async function readNabWindows(nabDir: string): Promise<Map<string, AnomalyWindow[]>> {
  const json = JSON.parse(await readFile(join(nabDir, 'labels', 'combined_windows.json'), 'utf8')) as Record<string, [string, string][]>;
  return new Map(Object.entries(json).map(([file, ws]) => [file, ws.map(([a, b]): AnomalyWindow => [parseNabTimestamp(a), parseNabTimestamp(b)])]));
}

export async function readNabProfiles(nabDir: string): Promise<Profiles> {
  const json = JSON.parse(await readFile(join(nabDir, 'config', 'profiles.json'), 'utf8')) as Record<string, { CostMatrix: CostMatrix }>;
  return new Map(Object.entries(json).map(([name, p]) => [name, { tpWeight: p.CostMatrix.tpWeight, fpWeight: p.CostMatrix.fpWeight, fnWeight: p.CostMatrix.fnWeight }]));
}

/**
 * A detector's results, `results/<detector>/<category>/<detector>_<file>.csv`, keyed by series
 * name; `resultsDir` is the folder holding the detector folders.
 */
export async function readNabResults(resultsDir: string, detector: string): Promise<Map<string, SeriesScores>> {
  const dir = join(resultsDir, detector);
  const out = new Map<string, SeriesScores>();
  for (const category of (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const file of (await readdir(join(dir, category))).filter((f) => f.startsWith(`${detector}_`) && f.endsWith('.csv')).sort()) {
      const path = join(dir, category, file);
      const { header, rows } = await readCsv(path);
      const t = column(header, 'timestamp', path);
      const s = column(header, 'anomaly_score', path);
      out.set(`${category}/${file.slice(detector.length + 1)}`, {
        timestamps: Float64Array.from(rows, (r) => parseNabTimestamp(r[t] ?? '')),
        scores: Float64Array.from(rows, (r) => Number(r[s])),
      });
    }
  }
  return out;
}

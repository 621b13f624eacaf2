/**
 * NAB benchmark: our streaming detector (src/anomaly/detector.ts) over every series of a NAB
 * checkout, scored with our implementation of NAB's scorer (src/anomaly/nab/scorer.ts), next to
 * the reference scoreboard of the 31-file subset the fixture holds.
 *
 * - nabDir: the fixture copy (test/fixtures/nab) unless given; `NAB_DIR` names any NAB checkout
 *   (data/ labels/ config/, and results/ if the check of published results is wanted).
 * - Writes NAB-format result files, `outDir/<detector>/<category>/<detector>_<file>.csv` with
 *   `timestamp,value,anomaly_score,label`, so NAB's own scorer can check our figures.
 * - Rows: our detector per profile (score, threshold, events/s: the detector alone, one core)
 *   and, as a check of the scorer, the published results found in nabDir/results scored by us,
 *   each with the README's reference figure where there is one.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AnomalyDetector, type DetectorOptions } from '../../src/anomaly/detector.ts';
import { formatNabTimestamp, readNabData, readNabProfiles, readNabResults, readNabWindows, type NabSeries } from '../../src/anomaly/nab/corpus.ts';
import { scoreCorpus, type AnomalyWindow, type ProfileScore, type SeriesScores } from '../../src/anomaly/nab/scorer.ts';

export const DETECTOR_NAME = 'movingdata';
export const PROFILES = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;

/** NAB's own scorer on the 31-file subset (test/fixtures/nab/README.md). */
export const REFERENCE: Readonly<Record<string, readonly [number, number, number]>> = {
  contextOSE: [74.05, 71.66, 76.85],
  numenta: [71.21, 64.99, 75.87],
  knncad: [64.4, 50.44, 71.0],
  relativeEntropy: [56.25, 48.85, 60.89],
  windowedGaussian: [36.71, 21.4, 45.17],
  null: [0, 0, 0],
};

export interface NabRow {
  readonly detector: string;
  readonly profile: string;
  /** Our scorer's normalised score. */
  readonly score: number;
  readonly threshold: number;
  /** The README's figure for this detector on the subset (only meaningful on it). */
  readonly reference: number | undefined;
  /** Events per second of the detector (ours only). */
  readonly eventsPerSecond: number | undefined;
}

export const DEFAULT_NAB_DIR = join(import.meta.dirname, '../../test/fixtures/nab');

/** Runs a fresh detector over each series; returns the scores and the detector's events/s. */
export function detectCorpus(series: readonly NabSeries[], options: DetectorOptions = {}): { results: Map<string, SeriesScores>; eventsPerSecond: number } {
  const results = new Map<string, SeriesScores>();
  let events = 0;
  let ms = 0;
  for (const s of series) {
    const detector = new AnomalyDetector(options);
    const scores = new Float64Array(s.values.length);
    const started = performance.now();
    for (let i = 0; i < s.values.length; i++) scores[i] = detector.update(s.timestamps[i]!, s.values[i]!);
    ms += performance.now() - started;
    events += s.values.length;
    results.set(s.name, { timestamps: s.timestamps, scores });
  }
  return { results, eventsPerSecond: events / (ms / 1000) };
}

function inWindow(t: number, windows: readonly AnomalyWindow[]): boolean {
  return windows.some(([a, b]) => t >= a && t <= b);
}

async function writeResults(outDir: string, series: readonly NabSeries[], results: ReadonlyMap<string, SeriesScores>, windows: ReadonlyMap<string, readonly AnomalyWindow[]>): Promise<void> {
  for (const s of series) {
    const [category, file] = s.name.split('/');
    const path = join(outDir, DETECTOR_NAME, category ?? '', `${DETECTOR_NAME}_${file ?? ''}`);
    await mkdir(dirname(path), { recursive: true });
    const scores = results.get(s.name)!.scores;
    const ws = windows.get(s.name) ?? [];
    const lines = ['timestamp,value,anomaly_score,label'];
    for (let i = 0; i < s.values.length; i++) lines.push(`${formatNabTimestamp(s.timestamps[i]!)},${s.values[i]!},${scores[i]!},${inWindow(s.timestamps[i]!, ws) ? 1 : 0}`);
    await writeFile(path, lines.join('\n') + '\n');
  }
}

function rows(detector: string, scores: ReadonlyMap<string, ProfileScore>, eventsPerSecond: number | undefined): NabRow[] {
  return PROFILES.map((profile, i) => {
    const s = scores.get(profile);
    if (s === undefined) throw new Error(`nab: no profile ${profile}`);
    return { detector, profile, score: s.normalised, threshold: s.threshold, reference: REFERENCE[detector]?.[i], eventsPerSecond };
  });
}

export async function runNabBench(options: { nabDir?: string; outDir: string; log: (line: string) => void; detector?: DetectorOptions }): Promise<NabRow[]> {
  const nabDir = options.nabDir ?? process.env['NAB_DIR'] ?? DEFAULT_NAB_DIR;
  const [series, windows, profiles] = await Promise.all([readNabData(nabDir), readNabWindows(nabDir), readNabProfiles(nabDir)]);
  const events = series.reduce((n, s) => n + s.values.length, 0);
  options.log(`nab: ${series.length} series, ${events} events from ${nabDir}`);
  const { results, eventsPerSecond } = detectCorpus(series, options.detector);
  options.log(`nab: detector ran at ${Math.round(eventsPerSecond)} events/s`);
  await writeResults(options.outDir, series, results, windows);
  options.log(`nab: result files in ${join(options.outDir, DETECTOR_NAME)}`);
  const out = rows(DETECTOR_NAME, scoreCorpus(results, windows, profiles), eventsPerSecond);
  // The scorer's check: published results shipped with the checkout, scored by us.
  for (const published of ['numenta', 'windowedGaussian', 'null']) {
    if (!existsSync(join(nabDir, 'results', published))) continue;
    const theirs = await readNabResults(join(nabDir, 'results'), published);
    const names = new Set(series.map((s) => s.name));
    const same = new Map([...theirs].filter(([name]) => names.has(name)));
    out.push(...rows(published, scoreCorpus(same, windows, profiles), undefined));
  }
  // Reference-only rows (detectors whose result files are not shipped).
  for (const detector of ['contextOSE', 'knncad']) {
    PROFILES.forEach((profile, i) => out.push({ detector, profile, score: Number.NaN, threshold: Number.NaN, reference: REFERENCE[detector]?.[i], eventsPerSecond: undefined }));
  }
  return out;
}

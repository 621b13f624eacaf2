/**
 * The Numenta Anomaly Benchmark's scoring method, written from its description and from reading
 * NAB's nab/sweeper.py and nab/optimizer.py (github.com/numenta/NAB at ea702d7, MIT), so that
 * our detector is judged the way every published NAB detector was, by our own code.
 *
 * - Each row of a series gets an unweighted sweep score: inside a labelled window it is the
 *   scaled sigmoid of its position (-1 at the window's first row, towards 0 at its last), outside
 *   it is a false-positive weight that depends on the distance past the previous window (or -1
 *   with no window before it).
 * - The first `min(floor(0.15 * rows), 750)` rows are probationary and not scored at all.
 * - For a threshold, a row detects when its anomaly score is ≥ the threshold. A window earns
 *   the best (earliest) of its detections, tpWeight at its very start; a window without one
 *   costs fnWeight; every detection outside windows adds its fp-weighted sweep score.
 * - Per profile, the threshold is the one maximising the raw score summed over the whole
 *   corpus, found as NAB's optimizer does: every distinct anomaly score of the scorable rows is
 *   a candidate (plus 1.1, "never detect"), swept from the highest down in one pass; ties keep
 *   the highest threshold.
 * - Normalised = 100 × (raw − raw_null) / (raw_perfect − raw_null), raw_null being the score
 *   with no detection and raw_perfect = tpWeight × windows.
 */

export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** Profile name → cost matrix, e.g. standard, reward_low_FP_rate, reward_low_FN_rate. */
export type Profiles = ReadonlyMap<string, CostMatrix>;

/** A window's first and last timestamps (ms since the epoch), both inclusive. */
export type AnomalyWindow = readonly [startMs: number, endMs: number];

/** A detector's output for one series: the series' timestamps and one anomaly score per row. */
export interface SeriesScores {
  readonly timestamps: ArrayLike<number>;
  readonly scores: ArrayLike<number>;
}

export interface ProfileScore {
  /** NAB-optimised threshold over the corpus (1.1 when never detecting is best). */
  readonly threshold: number;
  readonly raw: number;
  /** 0 = null detector, 100 = a detection at the start of every window. */
  readonly normalised: number;
  readonly rawNull: number;
  readonly rawPerfect: number;
}

const PROBATION_PERCENT = 0.15;
/** The "never detect" threshold NAB's sweep starts from. */
export const NEVER = 1.1;
/** Row is outside every window (a detection is a false positive). */
const OUTSIDE = -1;
/** Row is in the probation period (not scored). */
const PROBATION = -2;

export function probationLength(rows: number): number {
  return Math.min(Math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000);
}

export function scaledSigmoid(position: number): number {
  return position > 3 ? -1 : 2 / (1 + Math.exp(5 * position)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** Per-row sweep data for one series: unweighted sweep score and window number (or OUTSIDE/PROBATION). */
interface SweepRows {
  readonly unweighted: Float64Array;
  readonly window: Int32Array;
}

/**
 * Follows NAB's calcSweepScore: a window is entered on the row whose timestamp equals its start
 * and left after the row equal to its end; windows are numbered from `firstWindow` in order.
 */
function sweepRows(timestamps: ArrayLike<number>, windows: readonly AnomalyWindow[], firstWindow: number): SweepRows {
  const n = timestamps.length;
  const indexOf = new Map<number, number>();
  for (let i = n - 1; i >= 0; i--) indexOf.set(timestamps[i]!, i); // first occurrence wins, as list.index does
  const probation = probationLength(n);
  const unweighted = new Float64Array(n);
  const window = new Int32Array(n);
  let pending = 0;
  let inWindow = -1;
  let curRight = 0;
  let curWidth = 0;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i++) {
    const t = timestamps[i]!;
    const next = windows[pending];
    if (next !== undefined && t === next[0]) {
      inWindow = firstWindow + pending;
      pending++;
      curRight = indexOf.get(next[1]) ?? n - 1;
      curWidth = curRight - (indexOf.get(next[0]) ?? i) + 1;
    }
    if (inWindow >= 0) {
      unweighted[i] = scaledSigmoid(-(curRight - i + 1) / curWidth);
    } else if (prevRight < 0) {
      unweighted[i] = -1;
    } else {
      unweighted[i] = prevWidth > 1 ? scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1)) : -1;
    }
    window[i] = i < probation ? PROBATION : inWindow >= 0 ? inWindow : OUTSIDE;
    const current = windows[pending - 1];
    if (inWindow >= 0 && current !== undefined && t === current[1]) {
      prevRight = i;
      prevWidth = curWidth;
      inWindow = -1;
    }
  }
  return { unweighted, window };
}

/** Weighted sweep score of one row under a cost matrix. */
function weighted(unweighted: number, window: number, cost: CostMatrix): number {
  return window >= 0 ? (unweighted * cost.tpWeight) / MAX_TP : unweighted * cost.fpWeight;
}

/** The scorable rows of a corpus, sorted by anomaly score, highest first. */
interface CorpusRows {
  readonly score: Float64Array;
  readonly unweighted: Float64Array;
  readonly window: Int32Array;
  /** Windows that have at least one scorable row (the ones a miss is charged for). */
  readonly scoredWindows: readonly number[];
  /** Every window of the scored series, scorable or not (the perfect detector's count). */
  readonly totalWindows: number;
}

function corpusRows(results: ReadonlyMap<string, SeriesScores>, windows: ReadonlyMap<string, readonly AnomalyWindow[]>): CorpusRows {
  const parts: { sweep: SweepRows; scores: ArrayLike<number>; probation: number }[] = [];
  let totalWindows = 0;
  let count = 0;
  for (const [file, series] of results) {
    if (series.timestamps.length !== series.scores.length) throw new Error(`nab: ${file}: ${series.timestamps.length} timestamps but ${series.scores.length} scores`);
    const fileWindows = windows.get(file);
    if (fileWindows === undefined) throw new Error(`nab: no windows for ${file}`);
    const sweep = sweepRows(series.timestamps, fileWindows, totalWindows);
    totalWindows += fileWindows.length;
    const probation = probationLength(series.timestamps.length);
    parts.push({ sweep, scores: series.scores, probation });
    count += series.timestamps.length - Math.ceil(probation);
  }
  const score = new Float64Array(count);
  const unweighted = new Float64Array(count);
  const window = new Int32Array(count);
  const scored = new Set<number>();
  let k = 0;
  for (const { sweep, scores, probation } of parts) {
    for (let i = Math.ceil(probation); i < scores.length; i++) {
      score[k] = scores[i]!;
      unweighted[k] = sweep.unweighted[i]!;
      window[k] = sweep.window[i]!;
      if (window[k]! >= 0) scored.add(window[k]!);
      k++;
    }
  }
  // Stable sort by score, descending (NAB sorts the same way; ties keep corpus order).
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => score[b]! - score[a]! || a - b);
  const sorted = { score: new Float64Array(count), unweighted: new Float64Array(count), window: new Int32Array(count) };
  order.forEach((from, to) => {
    sorted.score[to] = score[from]!;
    sorted.unweighted[to] = unweighted[from]!;
    sorted.window[to] = window[from]!;
  });
  return { ...sorted, scoredWindows: [...scored], totalWindows };
}

/**
 * The best threshold and its raw score for one cost matrix, by NAB's sweep: starting above
 * every score (no detection: every scored window missed), lower the threshold through each
 * distinct score; a window's part is the best sweep score of its detections, the fp part sums.
 */
function optimise(rows: CorpusRows, cost: CostMatrix): { threshold: number; raw: number; rawNull: number } {
  const windowPart = new Map<number, number>();
  for (const w of rows.scoredWindows) windowPart.set(w, -cost.fnWeight);
  let windowSum = -cost.fnWeight * rows.scoredWindows.length;
  let fpSum = 0;
  const rawNull = windowSum;
  let best = { threshold: NEVER, raw: rawNull };
  let threshold = NEVER;
  for (let i = 0; i < rows.score.length; i++) {
    const s = rows.score[i]!;
    if (s !== threshold) {
      const raw = windowSum + fpSum;
      if (raw > best.raw) best = { threshold, raw };
      threshold = s;
    }
    const w = rows.window[i]!;
    const value = weighted(rows.unweighted[i]!, w, cost);
    if (w < 0) {
      fpSum += value;
    } else {
      const before = windowPart.get(w)!;
      if (value > before) {
        windowPart.set(w, value);
        windowSum += value - before;
      }
    }
  }
  const raw = windowSum + fpSum;
  if (raw > best.raw) best = { threshold, raw };
  return { ...best, rawNull };
}

/**
 * Scores a detector over a corpus for each profile: NAB's corpus-wide threshold optimisation,
 * then normalisation between the null detector and the perfect one. `results` maps a series
 * name (as in combined_windows.json, e.g. `realKnownCause/nyc_taxi.csv`) to its scores.
 */
export function scoreCorpus(
  results: ReadonlyMap<string, SeriesScores>,
  windows: ReadonlyMap<string, readonly AnomalyWindow[]>,
  profiles: Profiles,
): Map<string, ProfileScore> {
  const rows = corpusRows(results, windows);
  const out = new Map<string, ProfileScore>();
  for (const [name, cost] of profiles) {
    const { threshold, raw, rawNull } = optimise(rows, cost);
    const rawPerfect = rows.totalWindows * cost.tpWeight;
    out.set(name, { threshold, raw, rawNull, rawPerfect, normalised: (100 * (raw - rawNull)) / (rawPerfect - rawNull) });
  }
  return out;
}

/** Raw NAB score of one series at a fixed threshold (rows with score ≥ threshold detect). */
export function scoreSeries(series: SeriesScores, windows: readonly AnomalyWindow[], cost: CostMatrix, threshold: number): number {
  const { unweighted, window } = sweepRows(series.timestamps, windows, 0);
  const windowPart = new Map<number, number>();
  let fp = 0;
  for (let i = 0; i < window.length; i++) {
    const w = window[i]!;
    if (w === PROBATION) continue;
    if (w >= 0 && !windowPart.has(w)) windowPart.set(w, -cost.fnWeight);
    if (series.scores[i]! < threshold) continue;
    const value = weighted(unweighted[i]!, w, cost);
    if (w < 0) fp += value;
    else windowPart.set(w, Math.max(windowPart.get(w)!, value));
  }
  let total = fp;
  for (const v of windowPart.values()) total += v;
  return total;
}

/**
 * A streaming anomaly detector for one sensor's telemetry: `update(timestampMs, value)` returns
 * an anomaly score in [0, 1] in constant time and constant memory per event.
 *
 * Design, after reading how the top NAB detectors work:
 * - CAD OSE (74.05 on our subset) and HTM (71.21) are both *sequence memories* over a coarse
 *   encoding of the value: they score how badly the recent context predicted the current value,
 *   not how far the value is from a mean. KNN-CAD (64.40) compares the last 19 values with a
 *   sliding window of earlier ones. All three suppress further output for a while after a
 *   detection (CAD's restPeriod, KNN-CAD's `pred`), because NAB credits only the first
 *   detection of a window and charges every extra false positive. HTM turns its raw score into
 *   an "anomaly likelihood": how unusual the recent raw scores are against their own history.
 * - CAD OSE and HTM grow their memory with the stream (CAD keeps every context it has seen and
 *   scans them all each step), which a per-device detector on an IoT stream cannot afford.
 *
 * So this detector is a bounded sequence memory in that spirit, with HTM's likelihood and CAD's
 * rest period:
 * 1. Encoding: the value is quantised into `levels` bins over the range seen so far (learned
 *    online; a value beyond it gets one of two out-of-range symbols), which is the per-series
 *    min/max NAB hands its detectors, learned instead of given.
 * 2. Sequence memory: an interpolated variable-order Markov model over the last `order`
 *    symbols (orders 0..order), counts held in a fixed-size hashed table (no keys stored, so
 *    memory is fixed; collisions only blur counts). P(symbol) is built from order 0 up,
 *    `P_k = (c_k(ctx, s) + β·P_{k−1}) / (c_k(ctx) + β)`, and the raw surprise is −log2 P.
 *    A spike (a symbol never seen), a level shift (a symbol rare at any order), a broken daily
 *    pattern (a confident high-order prediction missed) and a stuck sensor (a run no context
 *    predicts, plus a run-length channel below) all raise it.
 * 3. Likelihood: the mean of the last few surprises against an exponentially weighted mean and
 *    variance of the surprise itself; the Gaussian tail of that z becomes the score through
 *    HTM's log scaling, −log10(tail) / 10, clamped to [0, 1].
 * 4. Rest period: after a score at or above `restThreshold`, the next `restPeriod` events
 *    score at most `restCap`: one anomaly, one detection.
 * Fixed parameters for every series (no per-file tuning); the first `warmup` events score 0
 * while the range and the statistics settle (NAB does not score its probation period either).
 */

export interface DetectorOptions {
  /** Quantisers: each quantises the value into this many bins over the learned range (plus two
   *  out-of-range symbols) and feeds its own Markov chain; their surprises are averaged. */
  readonly resolutions?: readonly number[];
  /** Longest Markov context, in events. */
  readonly order?: number;
  /** log2 of the count table's size (Float32 slots). */
  readonly tableBits?: number;
  /** Back-off strength β of the interpolated Markov model. */
  readonly backoff?: number;
  /** Events that score 0 while the detector learns. */
  readonly warmup?: number;
  /** Events averaged into the "recent" surprise. */
  readonly shortWindow?: number;
  /** Weight of a new surprise in the long-run mean and variance. */
  readonly longAlpha?: number;
  /** Floor of the surprise's standard deviation, in bits. */
  readonly minStd?: number;
  /** A value is out of range (a symbol of its own) only this far beyond it, as a fraction of it. */
  readonly outMargin?: number;
  /** Score that starts a rest period, and its length in events. */
  readonly restThreshold?: number;
  readonly restPeriod?: number;
  /** Highest score allowed during a rest period. */
  readonly restCap?: number;
  /** Learn the long-run distribution of the recent average (true) or of single surprises. */
  readonly statsOfRecent?: boolean;
  /** How unusual the recent surprise is: a Gaussian tail on its EWMA mean and variance, or its
   *  rank among the (exponentially forgotten) past recent surprises. */
  readonly tail?: 'gaussian' | 'empirical';
  /** For the empirical tail: −log10 p that scores 1. */
  readonly tailDecades?: number;
}

const DEFAULTS: Required<DetectorOptions> = {
  resolutions: [6],
  order: 4,
  tableBits: 15,
  backoff: 2,
  warmup: 150,
  shortWindow: 3,
  longAlpha: 1 / 500,
  minStd: 1,
  outMargin: 0,
  restThreshold: 0.3,
  restPeriod: 100,
  restCap: 0,
  statsOfRecent: false,
  tail: 'gaussian',
  tailDecades: 3,
};

/** Histogram of past recent surprises for the empirical tail: bins of 1/4 bit up to 32 bits. */
const HIST_BINS = 128;
const HIST_PER_BIT = 4;

const LN10 = Math.log(10);

/** log of the upper Gaussian tail Q(z) = erfc(z/√2)/2, accurate far into the tail. */
export function logGaussianTail(z: number): number {
  const x = z / Math.SQRT2;
  if (x < 0) return Math.log(1 - Math.exp(logErfc(-x)) / 2);
  return logErfc(x) - Math.LN2;
}

/** log erfc(x) for x ≥ 0 (Chebyshev fit, relative error < 1.2e-7 on erfc). */
function logErfc(x: number): number {
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.log(t) - x * x + poly;
}

/** FNV-1a style mixing of small integers into a table index. */
function mix(h: number, v: number): number {
  return Math.imul(h ^ v, 0x01000193) >>> 0;
}

export class AnomalyDetector {
  readonly #o: Required<DetectorOptions>;
  readonly #mask: number;
  /** Hashed counts: contexts' totals and (context, symbol) pairs of every chain share one table. */
  readonly #counts: Float32Array;
  /** Per quantiser, the last `order` symbols (ring of `order` slots each; newest at #pos − 1). */
  readonly #history: Int32Array;
  #pos = 0;
  /** The last `shortWindow` surprises (ring). */
  readonly #recent: Float64Array;
  #recentSum = 0;
  #events = 0;
  #min = Infinity;
  #max = -Infinity;
  #mean = 0;
  #var = 0;
  #rest = 0;
  #lastTimestamp = -Infinity;
  readonly #hist = new Float64Array(HIST_BINS);
  #histTotal = 0;
  #histWeight = 1;

  constructor(options: DetectorOptions = {}) {
    this.#o = { ...DEFAULTS, ...options };
    if (this.#o.resolutions.length === 0 || this.#o.resolutions.some((l) => !Number.isInteger(l) || l < 1)) throw new RangeError('detector: resolutions must be positive integers');
    if (this.#o.tableBits < 4 || this.#o.tableBits > 28) throw new RangeError('detector: tableBits must be in 4..28');
    this.#mask = (1 << this.#o.tableBits) - 1;
    this.#counts = new Float32Array(1 << this.#o.tableBits);
    this.#history = new Int32Array(Math.max(1, this.#o.order) * this.#o.resolutions.length);
    this.#recent = new Float64Array(Math.max(1, this.#o.shortWindow));
  }

  /** Events learnt. */
  get events(): number {
    return this.#events;
  }

  /** Bytes of typed-array state: fixed at construction, whatever the number of events. */
  get stateBytes(): number {
    return this.#counts.byteLength + this.#history.byteLength + this.#recent.byteLength;
  }

  /** The latest timestamp seen (−Infinity before any event). */
  get lastTimestamp(): number {
    return this.#lastTimestamp;
  }

  /**
   * Scores one event and learns from it. The model is one of order: it uses the order of calls,
   * not the timestamps' spacing (the latest timestamp is kept for callers, see devices.ts).
   * A non-finite value scores 0 and is not learnt.
   */
  update(timestampMs: number, value: number): number {
    if (!Number.isFinite(value)) return 0;
    if (timestampMs > this.#lastTimestamp) this.#lastTimestamp = timestampMs;
    const o = this.#o;
    const order = Math.max(1, o.order);
    const available = Math.min(o.order, this.#events);
    let surprise = 0;
    for (let q = 0; q < o.resolutions.length; q++) {
      const levels = o.resolutions[q]!;
      const symbol = this.#symbol(value, levels);
      surprise -= Math.log2(this.#predictAndLearn(q, symbol, levels + 2, available));
      this.#history[q * order + this.#pos] = symbol;
    }
    surprise /= o.resolutions.length;
    this.#pos = (this.#pos + 1) % order;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;

    // Recent surprise against its long-run distribution.
    const slot = this.#events % this.#recent.length;
    this.#recentSum += surprise - this.#recent[slot]!;
    this.#recent[slot] = surprise;
    this.#events++;
    const recent = this.#recentSum / Math.min(this.#events, this.#recent.length);
    const std = Math.max(Math.sqrt(this.#var), o.minStd);
    const z = (recent - this.#mean) / std;
    // Learn the surprise's mean and variance (EWMA; the plain average while few events).
    const alpha = Math.max(o.longAlpha, 1 / this.#events);
    const delta = (o.statsOfRecent ? recent : surprise) - this.#mean;
    this.#mean += alpha * delta;
    this.#var = (1 - alpha) * (this.#var + alpha * delta * delta);

    let score: number;
    if (o.tail === 'empirical') {
      const bin = Math.min(HIST_BINS - 1, Math.max(0, Math.floor(recent * HIST_PER_BIT)));
      let above = 0;
      for (let b = bin; b < HIST_BINS; b++) above += this.#hist[b]!;
      const p = (above + this.#histWeight) / (this.#histTotal + this.#histWeight);
      score = Math.min(1, -Math.log10(p) / o.tailDecades);
      // Forget exponentially: newer entries weigh more, rescaled before they overflow.
      this.#histWeight /= 1 - o.longAlpha;
      this.#hist[bin] = this.#hist[bin]! + this.#histWeight;
      this.#histTotal += this.#histWeight;
      if (this.#histWeight > 1e100) {
        for (let b = 0; b < HIST_BINS; b++) this.#hist[b] = this.#hist[b]! / this.#histWeight;
        this.#histTotal /= this.#histWeight;
        this.#histWeight = 1;
      }
    } else {
      score = Math.min(1, Math.max(0, -logGaussianTail(z) / LN10 / 10));
    }
    if (this.#events <= o.warmup) return 0;
    if (this.#rest > 0) {
      this.#rest--;
      score = Math.min(score, o.restCap);
    } else if (score >= o.restThreshold) {
      this.#rest = o.restPeriod;
    }
    return score;
  }

  /** P(symbol | quantiser q's last `available` symbols), interpolated from order 0 up; counts learnt. */
  #predictAndLearn(q: number, symbol: number, alphabet: number, available: number): number {
    const order = Math.max(1, this.#o.order);
    const base = q * order;
    const backoff = this.#o.backoff;
    let p = 1 / alphabet;
    let ctx = mix(0x811c9dc5, q + 1);
    for (let k = 0; k <= available; k++) {
      if (k > 0) ctx = mix(ctx, this.#history[base + ((this.#pos - k + order * 2) % order)]! + 1);
      const ctxKey = mix(ctx, 0x7fff) & this.#mask;
      const pairKey = mix(ctx, 0x10000 + symbol) & this.#mask;
      const total = this.#counts[ctxKey]!;
      const pair = this.#counts[pairKey]!;
      p = (pair + backoff * p) / (total + backoff);
      this.#counts[ctxKey] = total + 1;
      this.#counts[pairKey] = pair + 1;
    }
    return p;
  }

  /** The value's bin 1..levels over the learned range, 0 or levels + 1 beyond it. */
  #symbol(value: number, levels: number): number {
    if (this.#events === 0) return 1 + (levels >> 1);
    const range = this.#max - this.#min;
    const margin = this.#o.outMargin * range;
    if (value < this.#min - margin) return 0;
    if (value > this.#max + margin) return levels + 1;
    if (range === 0) return 1 + (levels >> 1);
    if (value <= this.#min) return 1;
    return 1 + Math.min(levels - 1, Math.floor(((value - this.#min) / range) * levels));
  }
}

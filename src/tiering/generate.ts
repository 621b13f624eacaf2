/**
 * Seeded, deterministic generator of realistic access traces for the tiering evaluation.
 *
 * The mix follows what object stores actually hold: uploads whose reads decay after a burst,
 * logs read for a day or two then almost never, periodic reports (weekly, monthly, quarterly),
 * archives that sleep with rare reactivation bursts, steadily hot assets, bursty datasets
 * (on/off training or analysis runs). Sizes are log-normal per kind, from KiB to tens of GB.
 * Same seed and options → byte-identical trace, so fixtures and reported numbers reproduce.
 */
import type { Provider } from './prices.ts';
import type { ReadDay, Trace, TraceObject } from './trace.ts';

/** sfc32, seeded through splitmix32: small, fast, and good enough for simulation. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = split();
    this.#b = split();
    this.#c = split();
    this.#d = split();
    for (let i = 0; i < 12; i += 1) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t / 4294967296;
  }

  int(lo: number, hiExclusive: number): number {
    return lo + Math.floor(this.next() * (hiExclusive - lo));
  }

  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k += 1;
      p *= this.next();
    }
    return k;
  }
}

export const OBJECT_KINDS = ['upload', 'log', 'report', 'archive', 'asset', 'dataset'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** Share of each kind in the mix (normalised). */
export type KindMix = Readonly<Record<ObjectKind, number>>;

export const DEFAULT_MIX: KindMix = { upload: 0.3, log: 0.2, report: 0.1, archive: 0.2, asset: 0.1, dataset: 0.1 };

/** Log-normal size: median bytes and σ of the log, clamped to [1 KiB, 64 GiB]. */
const SIZES: Readonly<Record<ObjectKind, readonly [median: number, sigma: number]>> = {
  upload: [2 * 2 ** 20, 1.8],
  log: [512 * 2 ** 10, 1.5],
  report: [256 * 2 ** 10, 1.5],
  archive: [1 * 2 ** 30, 1.6],
  asset: [96 * 2 ** 10, 1.6],
  dataset: [4 * 2 ** 30, 1.2],
};

export interface GenerateOptions {
  readonly seed: number;
  readonly objects: number;
  readonly days: number;
  readonly provider?: Provider;
  readonly mix?: KindMix;
  /** Share of objects that already exist on day 0 (the rest are created uniformly over the trace). */
  readonly existingShare?: number;
}

function pickKind(rng: Rng, mix: KindMix): ObjectKind {
  let total = 0;
  for (const k of OBJECT_KINDS) total += mix[k];
  let x = rng.next() * total;
  for (const k of OBJECT_KINDS) {
    x -= mix[k];
    if (x < 0) return k;
  }
  return 'archive';
}

function size(rng: Rng, kind: ObjectKind): number {
  const [median, sigma] = SIZES[kind];
  const s = Math.round(median * Math.exp(sigma * rng.normal()));
  return Math.min(64 * 2 ** 30, Math.max(1024, s));
}

/** Reads per day from creation to the end for one object of `kind`. */
function readsFor(rng: Rng, kind: ObjectKind, span: number): Uint32Array {
  const r = new Uint32Array(span);
  switch (kind) {
    case 'upload': {
      // A burst after upload decaying with a half-life of days to weeks, a small long tail.
      const peak = Math.exp(rng.normal() * 0.8 + 0.7);
      const tau = 2 + rng.next() * 25;
      const tail = rng.next() < 0.3 ? 0.01 + rng.next() * 0.03 : 0;
      for (let t = 0; t < span; t += 1) r[t] = rng.poisson(peak * Math.exp(-t / tau) + tail);
      break;
    }
    case 'log': {
      const first = 1 + rng.poisson(3);
      for (let t = 0; t < span; t += 1) r[t] = rng.poisson(t === 0 ? first : t === 1 ? first / 3 : 0.003);
      break;
    }
    case 'report': {
      const period = [7, 30, 91][rng.int(0, 3)]!;
      const phase = rng.int(0, period);
      const readers = 1 + rng.poisson(2);
      for (let t = 0; t < span; t += 1) {
        const due = (t + phase) % period === 0;
        r[t] = rng.poisson(t < 2 ? 2 : due ? readers : 0.01);
      }
      break;
    }
    case 'archive': {
      // Sleeps; a reactivation (audit, restore, re-analysis) ~ once every few years.
      const rate = rng.next() * 0.002;
      for (let t = 0; t < span; t += 1) {
        if (rng.next() < rate) {
          const len = 1 + rng.int(0, 5);
          const per = 1 + rng.poisson(4);
          for (let u = t; u < Math.min(span, t + len); u += 1) r[u] = rng.poisson(per);
          t += len;
        }
      }
      break;
    }
    case 'asset': {
      const rate = Math.exp(rng.normal() * 1.2 + 1.5);
      for (let t = 0; t < span; t += 1) r[t] = rng.poisson(rate);
      break;
    }
    case 'dataset': {
      // On/off: runs of heavy use separated by long idle gaps.
      let t = rng.int(0, 20);
      while (t < span) {
        const len = 2 + rng.int(0, 10);
        const per = 0.5 + rng.next() * 2;
        for (let u = t; u < Math.min(span, t + len); u += 1) r[u] = rng.poisson(per);
        t += len + Math.round(20 + rng.next() * 150);
      }
      break;
    }
  }
  return r;
}

export function generateTrace(options: GenerateOptions): Trace {
  const rng = new Rng(options.seed);
  const mix = options.mix ?? DEFAULT_MIX;
  const existing = options.existingShare ?? 0.4;
  const objects: TraceObject[] = [];
  for (let i = 0; i < options.objects; i += 1) {
    const kind = pickKind(rng, mix);
    const createdDay = rng.next() < existing ? 0 : rng.int(0, options.days);
    const perDay = readsFor(rng, kind, options.days - createdDay);
    const reads: ReadDay[] = [];
    for (let t = 0; t < perDay.length; t += 1) if (perDay[t]! > 0) reads.push([createdDay + t, perDay[t]!]);
    objects.push({ key: `${kind}/${String(i).padStart(6, '0')}`, size: size(rng, kind), createdDay, reads });
  }
  return { days: options.days, provider: options.provider ?? 'aws', objects };
}

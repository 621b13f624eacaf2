/**
 * A seeded synthetic tiering data set for the model's tests and bench: files with a read rate
 * (a mixture of busy, occasional and idle files), sizes from 1 KB to 10 GB, the FEATURE_NAMES
 * vector a control plane would see today, and as label the tier that would have been cheapest
 * over the next 30 days (storage + retrieval + requests at S3-like prices, with a minimum
 * billable size in cool and cold), the future read rate drifting from the past one, and 5% of
 * labels replaced by a random tier. Files never read have no days-since-last-read and no read
 * latency (NaN).
 */
import { mulberry32 } from '../../random.ts';
import { FEATURE_NAMES, TIERS, type TierRecord } from './features.ts';

const STORAGE = [0.023, 0.0125, 0.004, 0.00099];
const RETRIEVAL = [0, 0.01, 0.03, 0.02];
const PER_REQUEST = [0.4e-6, 1e-6, 10e-6, 50e-6];
const LATENCY_MS = [20, 35, 60, 400];
const MIN_BILLABLE = [0, 128 * 1024, 128 * 1024, 40 * 1024];

function poisson(random: () => number, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) {
    // Normal approximation (Box–Muller), rounded, at least 0.
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * z));
  }
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = random();
  while (p > limit) {
    k += 1;
    p *= random();
  }
  return k;
}

function logUniform(random: () => number, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo)));
}

/** `count` labelled records from `seed`. */
export function syntheticTierRecords(count: number, seed: number, options: { labelNoise?: number } = {}): TierRecord[] {
  const random = mulberry32(seed);
  const noise = options.labelNoise ?? 0.05;
  const out: TierRecord[] = [];
  for (let r = 0; r < count; r++) {
    const size = logUniform(random, 1e3, 1e10);
    const u = random();
    const rate = u < 0.3 ? logUniform(random, 0.3, 50) : u < 0.65 ? logUniform(random, 0.005, 0.3) : logUniform(random, 1e-4, 0.005);
    const age = 1 + random() * 999;
    const reads1 = poisson(random, rate);
    const reads7 = reads1 + poisson(random, rate * 6);
    const reads30 = reads7 + poisson(random, rate * 23);
    const reads90 = reads30 + poisson(random, rate * 60);
    const fraction = 0.2 + 0.8 * random();
    let sinceRead: number;
    if (reads1 > 0) sinceRead = random();
    else if (reads7 > 0) sinceRead = 1 + 6 * random();
    else if (reads30 > 0) sinceRead = 7 + 23 * random();
    else if (reads90 > 0) sinceRead = 30 + 60 * random();
    else sinceRead = age > 90 && random() < 0.6 ? 90 + (age - 90) * random() : Number.NaN;
    const tier = Math.min(3, Math.floor(random() * 3.3));
    const gb = Math.max(size, MIN_BILLABLE[tier]!) / 1e9;
    const latency = reads90 > 0 ? LATENCY_MS[tier]! * (0.7 + 0.6 * random()) + size / 5e7 : Number.NaN;
    const features = [
      reads1,
      reads7,
      reads30,
      reads90,
      reads1 * size * fraction,
      reads7 * size * fraction,
      reads30 * size * fraction,
      reads90 * size * fraction,
      sinceRead,
      random() * age,
      age,
      Math.log2(1 + size),
      tier,
      random() * age,
      latency,
      poisson(random, 0.2 * Math.sqrt(reads30)),
      STORAGE[tier]! * gb + reads30 * (RETRIEVAL[tier]! * (size / 1e9) * fraction + PER_REQUEST[tier]!),
    ];
    // The cheapest of hot, cool, cold over the next 30 days.
    const future = poisson(random, rate * logUniform(random, 0.5, 2) * 30);
    let label = 0;
    let best = Number.POSITIVE_INFINITY;
    for (let t = 0; t < TIERS.length; t++) {
      const cost = STORAGE[t]! * (Math.max(size, MIN_BILLABLE[t]!) / 1e9) + future * (RETRIEVAL[t]! * (size / 1e9) * fraction + PER_REQUEST[t]!);
      if (cost < best) {
        best = cost;
        label = t;
      }
    }
    if (random() < noise) label = Math.floor(random() * TIERS.length);
    if (features.length !== FEATURE_NAMES.length) throw new Error('synthetic: feature vector out of date');
    out.push({ features, label: TIERS[label]! });
  }
  return out;
}

/**
 * How long a failed job waits before its next attempt: exponential backoff with "full jitter"
 * and a cap (Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
 *
 *   ceiling = min(capMs, baseMs * 2^(failures - 1))
 *   delay   = random integer in [0, ceiling]
 *
 * `failures` counts failed runs so far, the first failure being 1, so the first retry waits
 * at most `baseMs`. With the defaults (1 s base, 5 min cap) the ceilings are 1, 2, 4, ... 256 s,
 * then 300 s from the 10th failure on.
 *
 * Why full jitter: when many jobs fail together (a provider outage fails every replication to
 * it at once), plain exponential backoff retries them in synchronised waves that hit the
 * recovering provider all at the same instant; drawing each delay uniformly below the ceiling
 * spreads them out while the ceiling still backs off. The cap bounds how long a job waits
 * after a long outage ends.
 */
import { MovingDataError } from '../errors.ts';

export interface BackoffPolicy {
  /** Ceiling of the first retry's delay, in ms. */
  readonly baseMs: number;
  /** No delay ever exceeds this, in ms. */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 1000, capMs: 5 * 60_000 });

/** Throws `invalid_argument` unless both are whole milliseconds with 0 <= base <= cap <= 1 day. */
export function checkBackoffPolicy(policy: BackoffPolicy): BackoffPolicy {
  const { baseMs, capMs } = policy;
  if (!Number.isSafeInteger(baseMs) || !Number.isSafeInteger(capMs) || baseMs < 0 || capMs < baseMs || capMs > 86_400_000) {
    throw new MovingDataError('invalid_argument', 'backoff needs whole milliseconds with 0 <= baseMs <= capMs <= 1 day', { retryable: false, details: { baseMs, capMs } });
  }
  return policy;
}

/** The largest delay the `failures`-th failure may draw. */
export function backoffCeilingMs(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, Math.floor(failures) - 1);
  // 2^exponent overflows to Infinity for large exponents, which min() handles; stop early anyway.
  if (exponent >= 52) return policy.capMs;
  return Math.min(policy.capMs, policy.baseMs * 2 ** exponent);
}

/**
 * The delay before retrying after the `failures`-th failure. `random` returns a number in
 * [0, 1) like Math.random (the default); tests inject a seeded one.
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(failures, policy);
  // Clamped, so a random source that returns exactly 1 (or garbage) cannot exceed the ceiling.
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Number.isFinite(r) ? Math.floor(r * (ceiling + 1)) : ceiling;
}

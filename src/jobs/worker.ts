/**
 * A job worker: claims jobs from the metadata store's queue (`metadata.jobs`) and runs each
 * with the handler registered for its kind. Distribution, leases and retries live in the
 * database (see `JobQueue` in src/metadata/port.ts); this is the loop around them.
 *
 * One job's life here:
 * 1. `claim` takes up to the free slots' worth of due jobs, with a lease of `leaseMs`.
 * 2. The handler runs; meanwhile the lease is renewed every `heartbeatMs` (a third of the
 *    lease by default, so two heartbeats may fail before it runs out).
 * 3. It returns: `complete` with its result. It throws: `fail`, with a backoff delay
 *    (backoff.ts) or, for an error that says `retryable: false`, straight to `failed` (the
 *    job is wrong, not the world: retrying cannot help, and `dead` is kept for "tried
 *    everything"). Errors without a `retryable` flag are retried: unknown is not hopeless.
 * 4. A heartbeat that finds the job taken over, or no renewal for a whole lease (database
 *    unreachable: someone else may take it over any moment), aborts the handler's signal with
 *    `JobLeaseLostError`. Whatever it returns then is discarded; the new owner's run counts.
 *
 * Delivery is at least once (a killed worker's jobs run again after their lease), so handlers
 * must be idempotent: guarded metadata transitions, upserts, "already done?" checks first, and
 * `ctx.saveProgress` for where a multi-step job got to.
 *
 * `stop()` stops claiming, waits up to `graceMs` for running jobs to finish, then aborts the
 * rest with `WorkerStoppingError` and hands them back to the queue (`release`: due at once,
 * the attempt not counted). A handler that ignores its signal is abandoned after `abandonMs`:
 * its heartbeats stop, so its lease runs out and another worker takes the job over.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config/config.ts';
import { MovingDataError, isMovingDataError } from '../errors.ts';
import type { Job, JobId, JobQueue, JsonObject, JsonValue, MetadataStore, Transition } from '../metadata/index.ts';
import { DEFAULT_BACKOFF, backoffDelayMs, checkBackoffPolicy, type BackoffPolicy } from './backoff.ts';
import { JobLeaseLostError, WorkerStoppingError } from './errors.ts';

/** pino-compatible (`log.info({ fields }, 'message')`), so Fastify's logger fits as is. */
export interface JobLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const silentLogger: JobLogger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });

/** A logger that adds `fields` to every entry. */
export function withFields(log: JobLogger, fields: Record<string, unknown>): JobLogger {
  return {
    debug: (f, m) => log.debug({ ...fields, ...f }, m),
    info: (f, m) => log.info({ ...fields, ...f }, m),
    warn: (f, m) => log.warn({ ...fields, ...f }, m),
    error: (f, m) => log.error({ ...fields, ...f }, m),
  };
}

export interface JobContext {
  /** This worker's id, as recorded in `job.lockedBy`. */
  readonly workerId: string;
  /**
   * Aborted when the handler must stop: the lease is lost (`JobLeaseLostError`) or the worker
   * is stopping (`WorkerStoppingError`); `signal.reason` says which. Pass it to every I/O call.
   */
  readonly signal: AbortSignal;
  /**
   * Replace the job's progress (where a multi-step job got to), visible to whichever worker
   * runs it next. Throws `JobLeaseLostError`, and aborts `signal`, if the job is no longer ours.
   */
  saveProgress(progress: JsonObject): Promise<void>;
  /** The progress saved last: by an earlier run (as in `job.progress`), or by this one since. */
  readonly progress: JsonObject;
  /** Entries carry the job's id, kind and attempt. */
  readonly log: JobLogger;
}

/** Runs one job; what it resolves to is stored as the job's result (undefined: null). */
export type JobHandler = (job: Job, ctx: JobContext) => Promise<JsonValue | undefined | void>;
export type JobHandlers = Readonly<Record<string, JobHandler>>;

export interface JobWorkerOptions {
  /** The store whose queue to work on. */
  readonly metadata: Pick<MetadataStore, 'jobs'>;
  /** Handlers by job kind. */
  readonly handlers: JobHandlers;
  /** Only these kinds, each with a handler (default: every kind in `handlers`). */
  readonly kinds?: readonly string[];
  /** Recorded as `lockedBy`; unique per worker (default `host:pid:random`). */
  readonly id?: string;
  /** Jobs run at once (default 4). */
  readonly concurrency?: number;
  /** Lease per claim, in ms (default 30 s). */
  readonly leaseMs?: number;
  /** Lease renewal interval, below `leaseMs` (default a third of it). */
  readonly heartbeatMs?: number;
  /** Wait between claims while the queue has nothing for us, in ms (default 1 s). */
  readonly pollMs?: number;
  /** Retry delays after a failure (default 1 s base, 5 min cap). */
  readonly backoff?: BackoffPolicy;
  /** [0, 1) random source for the backoff jitter (default Math.random). */
  readonly random?: () => number;
  readonly log?: JobLogger;
  /** Aborting it stops the worker, as `stop()` with default options. */
  readonly signal?: AbortSignal;
}

export interface WorkerStopOptions {
  /** How long running jobs may take to finish before they are aborted (default 10 s). */
  readonly graceMs?: number;
  /** How long aborted handlers may take to return before they are abandoned (default 5 s). */
  readonly abandonMs?: number;
}

export interface WorkerStats {
  readonly claimed: number;
  readonly succeeded: number;
  /** Failed runs that went back to the queue for a retry. */
  readonly retried: number;
  /** Failed runs that finished the job as `failed` (not retryable) or `dead` (out of attempts). */
  readonly failed: number;
  readonly dead: number;
  /** Runs whose job was taken over (or whose lease ran out) before they could report. */
  readonly lost: number;
  /** Jobs handed back to the queue on stop. */
  readonly released: number;
}

export interface WorkerStopReport extends WorkerStats {
  /** Handlers that ignored their abort; their jobs return to the queue when the lease runs out. */
  readonly abandoned: number;
}

export const DEFAULT_WORKER = Object.freeze({ concurrency: 4, leaseMs: 30_000, pollMs: 1000, graceMs: 10_000, abandonMs: 5000 });

/** Attempts, and their spacing, at reporting an outcome while the database is briefly unreachable. */
const SETTLE_DELAYS_MS = [200, 1000, 3000] as const;

interface RunningJob {
  readonly job: Job;
  readonly controller: AbortController;
  stopHeartbeat(): void;
  /** Set when stop() gave up on it: its outcome is no longer reported. */
  abandoned: boolean;
  done?: Promise<void>;
}

function invalid(message: string, details: Record<string, unknown> = {}): MovingDataError {
  return new MovingDataError('invalid_argument', message, { retryable: false, details });
}

function integerOption(value: number | undefined, fallback: number, what: string, min: number, max: number): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(`${what} must be an integer between ${min} and ${max}`, { [what]: value });
  return n;
}

/** The error's own word on retrying wins; without one, retry (unknown is not hopeless). */
function isRetryable(error: unknown): boolean {
  if (isMovingDataError(error)) return error.retryable;
  if (typeof error === 'object' && error !== null && 'retryable' in error && typeof error.retryable === 'boolean') return error.retryable;
  return true;
}

function describeError(error: unknown): string {
  if (isMovingDataError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when `promise` settles within `ms`, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export class JobWorker {
  readonly id: string;
  readonly kinds: readonly string[];
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly pollMs: number;
  readonly #queue: JobQueue;
  readonly #handlers: JobHandlers;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #log: JobLogger;
  readonly #running = new Map<JobId, RunningJob>();
  readonly #stats = { claimed: 0, succeeded: 0, retried: 0, failed: 0, dead: 0, lost: 0, released: 0 };
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #loop: Promise<void> | undefined;
  #stopped: Promise<WorkerStopReport> | undefined;
  /** Ends the poll loop's current pause early (a slot freed up, or stop). */
  #wake: (() => void) | undefined;
  /** The loop is paused because every slot is busy: a finishing job should wake it. */
  #waitingForSlot = false;

  constructor(options: JobWorkerOptions) {
    this.#queue = options.metadata.jobs;
    this.#handlers = Object.freeze({ ...options.handlers });
    const kinds = options.kinds ?? Object.keys(this.#handlers);
    if (kinds.length === 0) throw invalid('a worker needs at least one job kind with a handler');
    const missing = kinds.filter((kind) => typeof this.#handlers[kind] !== 'function');
    if (missing.length > 0) throw invalid(`no handler for job kind ${missing.join(', ')}`, { kinds: missing, known: Object.keys(this.#handlers) });
    this.kinds = Object.freeze([...new Set(kinds)]);
    this.id = options.id ?? defaultWorkerId();
    if (typeof this.id !== 'string' || this.id.length === 0 || this.id.length > 256) throw invalid('worker id must be 1 to 256 characters');
    this.concurrency = integerOption(options.concurrency, DEFAULT_WORKER.concurrency, 'concurrency', 1, 1000);
    this.leaseMs = integerOption(options.leaseMs, DEFAULT_WORKER.leaseMs, 'leaseMs', 10, 86_400_000);
    this.heartbeatMs = integerOption(options.heartbeatMs, Math.max(1, Math.floor(this.leaseMs / 3)), 'heartbeatMs', 1, this.leaseMs - 1);
    this.pollMs = integerOption(options.pollMs, DEFAULT_WORKER.pollMs, 'pollMs', 1, 60_000);
    this.#backoff = checkBackoffPolicy(options.backoff ?? DEFAULT_BACKOFF);
    this.#random = options.random ?? Math.random;
    this.#log = withFields(options.log ?? silentLogger, { workerId: this.id });
    options.signal?.addEventListener('abort', () => void this.stop(), { once: true });
  }

  /** Jobs running now. */
  get inFlight(): number {
    return this.#running.size;
  }

  get stats(): WorkerStats {
    return { ...this.#stats };
  }

  /** Start claiming and running jobs. Idempotent; a stopped worker does not restart. */
  start(): void {
    if (this.#state !== 'new') return;
    this.#state = 'running';
    this.#loop = this.#pollLoop().catch((err: unknown) => {
      // The loop catches what it expects; anything else is a bug worth shouting about.
      this.#log.error({ err: describeError(err) }, 'job worker poll loop crashed');
    });
  }

  /** Stop claiming, finish or hand back running jobs (see the file comment). Idempotent. */
  stop(options: WorkerStopOptions = {}): Promise<WorkerStopReport> {
    const graceMs = integerOption(options.graceMs, DEFAULT_WORKER.graceMs, 'graceMs', 0, 86_400_000);
    const abandonMs = integerOption(options.abandonMs, DEFAULT_WORKER.abandonMs, 'abandonMs', 0, 86_400_000);
    this.#stopped ??= this.#shutDown(graceMs, abandonMs);
    return this.#stopped;
  }

  async #shutDown(graceMs: number, abandonMs: number): Promise<WorkerStopReport> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopping';
    this.#wake?.();
    await this.#loop;
    let abandoned = 0;
    if (wasRunning && this.#running.size > 0) {
      this.#log.info({ running: this.#running.size, graceMs }, 'stopping: waiting for running jobs');
      if (!(await settlesWithin(this.#allDone(), graceMs))) {
        const reason = new WorkerStoppingError(this.id);
        for (const run of this.#running.values()) run.controller.abort(reason);
        if (!(await settlesWithin(this.#allDone(), abandonMs))) {
          for (const run of this.#running.values()) {
            run.abandoned = true;
            run.stopHeartbeat();
            abandoned += 1;
            this.#log.warn({ jobId: run.job.id, kind: run.job.kind }, 'handler ignored its abort; abandoning the job to lease expiry');
          }
        }
      }
    }
    this.#state = 'stopped';
    const report = { ...this.#stats, abandoned };
    this.#log.info({ ...report }, 'job worker stopped');
    return report;
  }

  #allDone(): Promise<unknown> {
    return Promise.all([...this.#running.values()].map((run) => run.done ?? Promise.resolve()));
  }

  /** Waits `ms`, or less if woken. */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = undefined;
    });
  }

  async #pollLoop(): Promise<void> {
    while (this.#state === 'running') {
      const free = this.concurrency - this.#running.size;
      if (free <= 0) {
        this.#waitingForSlot = true;
        await this.#pause(this.pollMs);
        this.#waitingForSlot = false;
        continue;
      }
      // The lease clock starts before the claim is sent: never later than the database's.
      const claimedAt = performance.now();
      let claimed: Job[];
      try {
        claimed = await this.#queue.claim(this.id, { kinds: this.kinds, limit: free, leaseMs: this.leaseMs });
      } catch (err) {
        this.#log.warn({ err: describeError(err) }, 'claiming jobs failed; will try again');
        await this.#pause(this.pollMs);
        continue;
      }
      // A job whose lease ran out while it still runs here (its heartbeats did not land) can
      // come back to this worker's own claim. The claim renewed its lease; the run already
      // going keeps it. A second run of it in this process would only race the first.
      const fresh = claimed.filter((job) => !this.#running.has(job.id));
      if (this.#state !== 'running') {
        // Stop arrived during the claim: hand the jobs straight back rather than start them.
        await Promise.all(fresh.map((job) => this.#queue.release(job.id, this.id).catch(() => false)));
        break;
      }
      this.#stats.claimed += fresh.length;
      for (const job of fresh) this.#start(job, claimedAt);
      // Fewer than asked for: nothing more is due now, so wait before asking again.
      if (claimed.length < free) await this.#pause(this.pollMs);
    }
  }

  #start(job: Job, claimedAt: number): void {
    const controller = new AbortController();
    const log = withFields(this.#log, { jobId: job.id, kind: job.kind, attempt: job.attempts });
    let lostReason: string | undefined;
    const loseLease = (reason: string): void => {
      if (lostReason !== undefined) return;
      lostReason = reason;
      controller.abort(new JobLeaseLostError(job.id, reason));
    };
    const run: RunningJob = { job, controller, abandoned: false, stopHeartbeat: this.#keepLease(job, claimedAt, loseLease, log) };
    this.#running.set(job.id, run);
    run.done = this.#execute(run, log, () => lostReason)
      .catch((err: unknown) => log.error({ err: describeError(err) }, 'job bookkeeping failed'))
      .finally(() => {
        run.stopHeartbeat();
        this.#running.delete(job.id);
        if (this.#waitingForSlot) this.#wake?.();
      });
  }

  /**
   * Renews the lease every `heartbeatMs`; returns the function that stops renewing. Declares
   * the lease lost when the database says the job was taken over, or when no renewal has
   * succeeded for a whole lease (measured from when the last successful one was sent, on
   * this process's monotonic clock, so it errs on the early side).
   */
  #keepLease(job: Job, claimedAt: number, loseLease: (reason: string) => void, log: JobLogger): () => void {
    let confirmedAt = claimedAt;
    let beating = false;
    const timer = setInterval(() => {
      if (performance.now() - confirmedAt >= this.leaseMs) {
        loseLease(`not renewed for ${this.leaseMs} ms`);
        clearInterval(timer);
        return;
      }
      if (beating) return;
      beating = true;
      const sentAt = performance.now();
      this.#queue.heartbeat(job.id, this.id, this.leaseMs).then(
        (owned) => {
          if (owned) confirmedAt = sentAt;
          else {
            loseLease('taken over by another worker');
            clearInterval(timer);
          }
        },
        (err: unknown) => log.warn({ err: describeError(err) }, 'lease renewal failed; will try again'),
      ).finally(() => {
        beating = false;
      });
    }, this.heartbeatMs);
    return () => clearInterval(timer);
  }

  async #execute(run: RunningJob, log: JobLogger, lost: () => string | undefined): Promise<void> {
    const { job, controller } = run;
    const handler = this.#handlers[job.kind];
    let progress = job.progress;
    const ctx: JobContext = {
      workerId: this.id,
      signal: controller.signal,
      log,
      get progress() {
        return progress;
      },
      saveProgress: async (next) => {
        controller.signal.throwIfAborted();
        if (!(await this.#queue.saveProgress(job.id, this.id, next))) {
          controller.abort(new JobLeaseLostError(job.id, 'taken over by another worker'));
          controller.signal.throwIfAborted();
        }
        progress = next;
      },
    };

    let outcome: { readonly ok: true; readonly result: JsonValue } | { readonly ok: false; readonly error: unknown };
    const started = performance.now();
    try {
      if (handler === undefined) throw new MovingDataError('unsupported', `no handler for job kind ${job.kind}`, { retryable: false });
      const result = await handler(job, ctx);
      outcome = { ok: true, result: result ?? null };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      run.stopHeartbeat();
    }
    const tookMs = Math.round(performance.now() - started);

    if (run.abandoned) return;
    const lostReason = lost() ?? (controller.signal.reason instanceof JobLeaseLostError ? controller.signal.reason.message : undefined);
    if (lostReason !== undefined) {
      this.#stats.lost += 1;
      log.warn({ reason: lostReason, tookMs }, 'job lost to another worker; this run is discarded');
      return;
    }

    if (outcome.ok) {
      const settled = await this.#settle(log, () => this.#queue.complete(job.id, this.id, outcome.result));
      if (settled === undefined) return;
      if (settled.applied) {
        this.#stats.succeeded += 1;
        log.debug({ tookMs }, 'job succeeded');
      } else {
        this.#stats.lost += 1;
        log.warn({ owner: settled.current.lockedBy, state: settled.current.state }, 'job was taken over before it could complete; this run is discarded');
      }
      return;
    }

    if (controller.signal.reason instanceof WorkerStoppingError) {
      const released = await this.#settle(log, () => this.#queue.release(job.id, this.id));
      if (released === true) this.#stats.released += 1;
      log.info({ released: released === true }, 'job handed back to the queue: worker stopping');
      return;
    }

    const retryable = isRetryable(outcome.error);
    const retryDelayMs = retryable ? backoffDelayMs(job.attempts, this.#backoff, this.#random) : 0;
    const message = describeError(outcome.error);
    const settled = await this.#settle(log, () => this.#queue.fail(job.id, this.id, message, { retryable, retryDelayMs }));
    if (settled === undefined) return;
    if (!settled.applied) {
      this.#stats.lost += 1;
      log.warn({ error: message }, 'job was taken over before its failure could be recorded');
      return;
    }
    const state = settled.value.state;
    if (state === 'queued') this.#stats.retried += 1;
    else if (state === 'dead') this.#stats.dead += 1;
    else this.#stats.failed += 1;
    const fields = { error: message, state, retryable, attempts: settled.value.attempts, maxAttempts: settled.value.maxAttempts, tookMs };
    if (state === 'queued') log.info({ ...fields, retryDelayMs }, 'job failed; will retry');
    else log.error(fields, state === 'dead' ? 'job failed its last attempt: dead' : 'job failed permanently');
  }

  /**
   * Reports an outcome, retrying briefly if the database is unreachable. Gives up (undefined)
   * after a few tries: the job then stays running until its lease runs out and runs again.
   */
  async #settle<T extends boolean | Transition<Job>>(log: JobLogger, report: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await report();
      } catch (err) {
        const wait = SETTLE_DELAYS_MS[attempt];
        if (wait === undefined || !isRetryable(err)) {
          log.error({ err: describeError(err) }, 'could not record the job outcome; it will run again after its lease');
          return undefined;
        }
        await delay(wait);
      }
    }
  }
}

/** A worker on `metadata.jobs` running `handlers`; call `start()`, later `stop()`. */
/** The configured retry policy, lease and poll interval (the server's worker and `movingdata worker` alike). */
export function workerSettings(engine: Config['engine']): { backoff: BackoffPolicy; leaseMs: number; pollMs: number } {
  const { retryBaseMs, retryCapMs, leaseMs, pollMs } = engine;
  return { backoff: { baseMs: retryBaseMs, capMs: Math.max(retryBaseMs, retryCapMs) }, leaseMs, pollMs };
}

export function createWorker(options: JobWorkerOptions): JobWorker {
  return new JobWorker(options);
}

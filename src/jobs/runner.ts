/**
 * How the API hands work to the engine: submit a job (replicate, move, verify, repair, scan)
 * and, if the caller wants, wait for its outcome.
 *
 * `QueueRunner` stores the job in the metadata store's queue, where any worker process (or the
 * server's own) claims it: a crash resumes it, a failure is retried with backoff, and repeated
 * submissions of the same work (same dedupe key) are one job. With PGlite the same queue runs
 * in the one process, so there is no second, in-process runner to keep in step.
 */
import { MovingDataError } from '../errors.ts';
import type { Job, JobQueue, JsonObject, JsonValue, NewJob } from '../metadata/index.ts';

export type JobOutcomeState = Job['state'];

export interface JobOutcome {
  readonly id: string;
  readonly kind: string;
  readonly state: JobOutcomeState;
  readonly attempts: number;
  readonly result: JsonValue | null;
  readonly lastError: string | null;
  /** Where a multi-step job got to (a rotation's objects re-wrapped so far, ...). */
  readonly progress: JsonObject;
  /** The principal the job acts for (its payload's `principal`), if any. */
  readonly submittedBy: string | null;
}

export interface SubmitOptions {
  /** Unfinished jobs of the same kind and key are one job (idempotent producers). */
  readonly dedupeKey?: string;
  /** Wait for the job to finish (succeeded, failed or dead) up to this long; 0: do not wait. */
  readonly waitMs?: number;
  readonly maxAttempts?: number;
  /** Run no earlier than this many milliseconds from now. */
  readonly delayMs?: number;
}

/** One job of a batch; batches are not waited for. */
export interface BatchJob {
  readonly kind: string;
  readonly payload: JsonObject;
  readonly options?: Omit<SubmitOptions, 'waitMs'>;
}

export interface JobRunner {
  submit(kind: string, payload: JsonObject, options?: SubmitOptions): Promise<JobOutcome>;
  /** Submit many jobs at once (the queue: one transaction per 10 000); outcomes in input order. */
  submitMany(jobs: readonly BatchJob[]): Promise<JobOutcome[]>;
  /** A job's current outcome; `not_found` for an unknown id. */
  get(id: string): Promise<JobOutcome>;
}

/** A payload handler: what a job of one kind does, given its payload. Idempotent. */
export interface PayloadContext {
  readonly signal: AbortSignal;
  /** Where an earlier run of this job got to (empty on the first run). */
  readonly progress: JsonObject;
  readonly saveProgress: (progress: JsonObject) => Promise<void>;
}
export type PayloadHandler = (payload: JsonObject, context: PayloadContext) => Promise<JsonObject>;

/** A payload's non-empty string `field`; a job without one is wrong, so retrying cannot help. */
export function payloadText(payload: JsonObject, field: string): string {
  const value = payload[field];
  if (typeof value !== 'string' || value === '') throw new MovingDataError('invalid_argument', `job payload needs a string '${field}'`, { retryable: false });
  return value;
}

export function optionalPayloadText(payload: JsonObject, field: string): string | undefined {
  const value = payload[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function isFinished(outcome: JobOutcome): boolean {
  return outcome.state === 'succeeded' || outcome.state === 'failed' || outcome.state === 'dead';
}

function outcomeOf(job: Job): JobOutcome {
  const principal = job.payload['principal'];
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    attempts: job.attempts,
    result: job.result,
    lastError: job.lastError,
    progress: job.progress,
    submittedBy: typeof principal === 'string' ? principal : null,
  };
}

/** JobQueue.enqueueMany's limit per call. */
const ENQUEUE_BATCH = 10_000;
const POLL_MIN_MS = 20;
const POLL_MAX_MS = 500;

/** Jobs through the durable queue; waiting polls the job's row (cheap: one indexed read). */
export class QueueRunner implements JobRunner {
  readonly #queue: JobQueue;
  readonly #defaultMaxAttempts: number;

  constructor(queue: JobQueue, options: { readonly maxAttempts?: number } = {}) {
    this.#queue = queue;
    this.#defaultMaxAttempts = options.maxAttempts ?? 10;
  }

  async submit(kind: string, payload: JsonObject, options: SubmitOptions = {}): Promise<JobOutcome> {
    const { job } = await this.#queue.enqueue(this.#newJob({ kind, payload, options }));
    const waitMs = options.waitMs ?? 0;
    if (waitMs <= 0) return outcomeOf(job);
    return this.wait(job.id, waitMs);
  }

  async submitMany(jobs: readonly BatchJob[]): Promise<JobOutcome[]> {
    const outcomes: JobOutcome[] = [];
    for (let i = 0; i < jobs.length; i += ENQUEUE_BATCH) {
      const results = await this.#queue.enqueueMany(jobs.slice(i, i + ENQUEUE_BATCH).map((j) => this.#newJob(j)));
      for (const { job } of results) outcomes.push(outcomeOf(job));
    }
    return outcomes;
  }

  #newJob({ kind, payload, options = {} }: BatchJob): NewJob {
    return {
      kind,
      payload,
      maxAttempts: options.maxAttempts ?? this.#defaultMaxAttempts,
      ...(options.dedupeKey === undefined ? {} : { dedupeKey: options.dedupeKey }),
      ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
    };
  }

  async get(id: string): Promise<JobOutcome> {
    return outcomeOf(await this.#queue.get(id));
  }

  /** Poll until the job finishes or `waitMs` passes; returns its outcome either way. */
  async wait(id: string, waitMs: number): Promise<JobOutcome> {
    const deadline = Date.now() + waitMs;
    let pause = POLL_MIN_MS;
    for (;;) {
      const outcome = await this.get(id);
      // A retrying job is still the caller's answer to wait for, unless time is up.
      if (isFinished(outcome) || Date.now() >= deadline) return outcome;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(1, deadline - Date.now()))));
      pause = Math.min(POLL_MAX_MS, pause * 2);
    }
  }
}

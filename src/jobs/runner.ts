/**
 * How the API hands work to the engine: submit a job (replicate, move, verify, repair, scan)
 * and, if the caller wants, wait for its outcome.
 *
 * - `QueueRunner` stores the job in the metadata store's queue, where any worker process (or
 *   the server's own) claims it: a crash resumes it, a failure is retried with backoff, and
 *   repeated submissions of the same work (same dedupe key) are one job.
 * - `InlineRunner` runs the handler here and now, for tools and unit tests with no queue.
 */
import { MovingDataError } from '../errors.ts';
import type { Job, JobQueue, JsonObject, JsonValue } from '../metadata/index.ts';

export type JobOutcomeState = Job['state'];

export interface JobOutcome {
  readonly id: string;
  readonly kind: string;
  readonly state: JobOutcomeState;
  readonly attempts: number;
  readonly result: JsonValue | null;
  readonly lastError: string | null;
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

export interface JobRunner {
  submit(kind: string, payload: JsonObject, options?: SubmitOptions): Promise<JobOutcome>;
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

export function isFinished(outcome: JobOutcome): boolean {
  return outcome.state === 'succeeded' || outcome.state === 'failed' || outcome.state === 'dead';
}

function outcomeOf(job: Job): JobOutcome {
  const principal = job.payload['principal'];
  return { id: job.id, kind: job.kind, state: job.state, attempts: job.attempts, result: job.result, lastError: job.lastError, submittedBy: typeof principal === 'string' ? principal : null };
}

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
    const { job } = await this.#queue.enqueue({
      kind,
      payload,
      maxAttempts: options.maxAttempts ?? this.#defaultMaxAttempts,
      ...(options.dedupeKey === undefined ? {} : { dedupeKey: options.dedupeKey }),
      ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
    });
    const waitMs = options.waitMs ?? 0;
    if (waitMs <= 0) return outcomeOf(job);
    return this.wait(job.id, waitMs);
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

/** Runs handlers in this process, right away; no retries beyond the handler's own. */
export class InlineRunner implements JobRunner {
  readonly #handlers: Readonly<Record<string, PayloadHandler>>;
  readonly #done = new Map<string, JobOutcome>();
  #next = 0;

  constructor(handlers: Readonly<Record<string, PayloadHandler>>) {
    this.#handlers = handlers;
  }

  async submit(kind: string, payload: JsonObject): Promise<JobOutcome> {
    const handler = this.#handlers[kind];
    if (handler === undefined) throw new MovingDataError('invalid_argument', `no handler for jobs of kind '${kind}'`);
    const id = `inline-${++this.#next}`;
    const submittedBy = typeof payload['principal'] === 'string' ? payload['principal'] : null;
    let progress: JsonObject = {};
    let outcome: JobOutcome;
    try {
      const result = await handler(payload, {
        signal: new AbortController().signal,
        get progress() {
          return progress;
        },
        saveProgress: async (next) => {
          progress = next;
        },
      });
      outcome = { id, kind, state: 'succeeded', attempts: 1, result, lastError: null, submittedBy };
    } catch (err) {
      outcome = { id, kind, state: 'failed', attempts: 1, result: null, lastError: err instanceof Error ? err.message : String(err), submittedBy };
    }
    this.#done.set(id, outcome);
    return outcome;
  }

  async get(id: string): Promise<JobOutcome> {
    const outcome = this.#done.get(id);
    if (outcome === undefined) throw new MovingDataError('not_found', `no job ${id}`, { details: { id } });
    return outcome;
  }
}

/**
 * How API calls hand work to the engine: submit a job (replicate, move, verify, repair, scan)
 * and, if the caller wants, wait for its outcome. The queue-backed runner (jobs/) stores the
 * job so any worker process can run it and a crash resumes it; the inline runner runs the
 * handler in this process — for tools and tests that have no queue.
 */
import { MovingDataError } from '../errors.ts';
import type { JsonObject } from '../metadata/index.ts';
import type { JobHandler } from './handlers.ts';

export type JobOutcomeState = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';

export interface JobOutcome {
  readonly id: string;
  readonly kind: string;
  readonly state: JobOutcomeState;
  readonly attempts: number;
  readonly result: JsonObject | null;
  readonly lastError: string | null;
}

export interface SubmitOptions {
  /** Unfinished jobs with the same key are one job (idempotent producers). */
  readonly dedupeKey?: string;
  /** Wait for the job to finish (succeeded, or failed for good) up to this long. */
  readonly waitMs?: number;
  readonly maxAttempts?: number;
}

export interface JobRunner {
  submit(kind: string, payload: JsonObject, options?: SubmitOptions): Promise<JobOutcome>;
}

/** Runs handlers in this process, right away; no retries beyond the handler's own. */
export class InlineRunner implements JobRunner {
  readonly #handlers: Readonly<Record<string, JobHandler>>;
  #next = 0;

  constructor(handlers: Readonly<Record<string, JobHandler>>) {
    this.#handlers = handlers;
  }

  async submit(kind: string, payload: JsonObject): Promise<JobOutcome> {
    const handler = this.#handlers[kind];
    if (handler === undefined) throw new MovingDataError('invalid_argument', `no handler for jobs of kind '${kind}'`);
    const id = `inline-${++this.#next}`;
    let progress: JsonObject = {};
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
      return { id, kind, state: 'succeeded', attempts: 1, result, lastError: null };
    } catch (err) {
      return { id, kind, state: 'failed', attempts: 1, result: null, lastError: err instanceof Error ? err.message : String(err) };
    }
  }
}

/**
 * The handlers a `movingdata worker` process runs, by job kind: the engine's (replicate, move,
 * verify, repair, scan: see src/engine.ts), on the same configuration as the server, plus two
 * kinds for trying the machinery out:
 *
 * - `noop`: succeeds at once with `{}`.
 * - `sleep`: payload `{ ms }` (0 .. 60 000); waits that long, stopping early if its lease is
 *   lost or the worker stops, and returns `{ sleptMs }`.
 *
 *   node bin/movingdata.js worker --kinds sleep,noop
 *
 * A handler runs at least once per job, sometimes more (a worker killed mid-job): make every
 * effect idempotent. See src/jobs/worker.ts for the contract (ctx.signal, ctx.saveProgress).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/config.ts';
import { openEngine } from '../engine.ts';
import { MovingDataError } from '../errors.ts';
import type { MetadataStore } from '../metadata/index.ts';
import type { JobHandler, JobHandlers, JobLogger } from './worker.ts';

/** What handlers are built from: the process's configuration and its open stores. */
export interface JobHandlerContext {
  readonly config: Config;
  readonly metadata: MetadataStore;
  readonly log: JobLogger;
  /** Register a release to run when the worker process stops (stores, connections). */
  readonly onClose: (close: () => Promise<void>) => void;
}

/** The shape of a module `movingdata worker --handlers MODULE` loads. */
export interface JobHandlerModule {
  defaultHandlers(context: JobHandlerContext): JobHandlers | Promise<JobHandlers>;
}

const MAX_SLEEP_MS = 60_000;

const noop: JobHandler = async () => ({});

const sleepFor: JobHandler = async (job, ctx) => {
  const ms = job.payload['ms'];
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
    // Retrying a malformed payload cannot help: straight to `failed`.
    throw new MovingDataError('invalid_argument', `sleep needs payload.ms, an integer from 0 to ${MAX_SLEEP_MS}`, { retryable: false });
  }
  await sleep(ms, undefined, { signal: ctx.signal });
  return { sleptMs: ms };
};

export async function defaultHandlers(context: JobHandlerContext): Promise<JobHandlers> {
  const engine = await openEngine(context.config, { metadata: context.metadata, announce: (message) => context.log.warn({}, message) });
  context.onClose(() => engine.close());
  return { noop, sleep: sleepFor, ...engine.handlers };
}

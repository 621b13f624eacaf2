/**
 * Why a job's handler was told to stop (the reason of its `ctx.signal`). Both are
 * MovingDataErrors, so code that classifies errors by `code` and `retryable` keeps working.
 */
import { MovingDataError } from '../errors.ts';

/**
 * The job is no longer this worker's: another worker took it over after the lease ran out,
 * or the lease could not be renewed in time. Whatever this run does next is discarded.
 */
export class JobLeaseLostError extends MovingDataError {
  readonly jobId: string;

  constructor(jobId: string, reason: string) {
    super('conflict', `job ${jobId}: lease lost (${reason})`, { retryable: false, details: { jobId, reason } });
    this.name = 'JobLeaseLostError';
    this.jobId = jobId;
  }
}

/** The worker is shutting down and hands the job back to the queue; another run will redo it. */
export class WorkerStoppingError extends MovingDataError {
  constructor(workerId: string) {
    super('unavailable', `worker ${workerId} is stopping`, { retryable: true, details: { workerId } });
    this.name = 'WorkerStoppingError';
  }
}

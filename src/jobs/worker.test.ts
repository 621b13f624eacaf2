import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MovingDataError } from '../errors.ts';
import type { Job, JobQueue, MetadataStore } from '../metadata/index.ts';
import { openPgliteStore } from '../metadata/pglite/pglite-store.ts';
import { JobLeaseLostError, WorkerStoppingError } from './errors.ts';
import { createWorker, type JobHandlers, type JobWorker, type JobWorkerOptions } from './worker.ts';

// One embedded store for the file (initdb in WASM takes seconds); every test uses job kinds of
// its own, and a worker only claims the kinds it has handlers for, so tests never meet.
let store: MetadataStore;
beforeAll(async () => {
  store = await openPgliteStore({ inMemory: true });
});
afterAll(async () => store.close());

const workers: JobWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop({ graceMs: 0, abandonMs: 0 })));
});

function startWorker(options: Partial<JobWorkerOptions> & Pick<JobWorkerOptions, 'handlers'>): JobWorker {
  const worker = createWorker({ metadata: store, pollMs: 20, ...options });
  workers.push(worker);
  worker.start();
  return worker;
}

/** Polls `probe` every 10 ms until it returns a value, failing after `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

async function finished(id: string): Promise<Job> {
  return until(`job ${id} to finish`, async () => {
    const job = await store.jobs.get(id);
    return job.finishedAt === null ? undefined : job;
  });
}

/** The queue with `heartbeat` replaced: to simulate a worker whose heartbeats stop landing. */
function withHeartbeat(jobs: JobQueue, heartbeat: JobQueue['heartbeat']): JobQueue {
  return new Proxy(jobs, {
    get(target, property) {
      if (property === 'heartbeat') return heartbeat;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Resolves with the signal's reason once it is aborted. */
async function aborted(signal: AbortSignal): Promise<unknown> {
  if (!signal.aborted) await once(signal, 'abort');
  return signal.reason;
}

describe('job worker', () => {
  it('runs jobs with their kind’s handler, at most `concurrency` at once, and records each result', async () => {
    let active = 0;
    let mostActive = 0;
    const handlers: JobHandlers = {
      'w1.work': async (job) => {
        active += 1;
        mostActive = Math.max(mostActive, active);
        await sleep(40);
        active -= 1;
        return { doubled: Number(job.payload['i']) * 2 };
      },
    };
    const enqueued = await store.jobs.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ kind: 'w1.work', payload: { i } })));
    const worker = startWorker({ handlers, concurrency: 3 });
    for (const [i, { job }] of enqueued.entries()) {
      expect(await finished(job.id)).toMatchObject({ state: 'succeeded', attempts: 1, lockedBy: worker.id, result: { doubled: i * 2 } });
    }
    expect(mostActive).toBe(3);
    expect(worker.stats).toMatchObject({ claimed: 10, succeeded: 10, retried: 0, lost: 0 });
  });

  it('retries a failing job after a backoff delay on the database clock', async () => {
    // random 0.5 of a 60 s ceiling: exactly 30 s, measured by the database.
    const worker = startWorker({
      handlers: { 'w2.flaky': async () => Promise.reject(new MovingDataError('unavailable', 'S3 is down')) },
      backoff: { baseMs: 60_000, capMs: 60_000 },
      random: () => 0.5,
    });
    const { job } = await store.jobs.enqueue({ kind: 'w2.flaky' });
    const retrying = await until('the failure to be recorded', async () => {
      const current = await store.jobs.get(job.id);
      return current.state === 'queued' && current.attempts === 1 ? current : undefined;
    });
    expect(retrying.lastError).toBe('unavailable: S3 is down');
    expect(retrying.runAfter.getTime() - retrying.updatedAt.getTime()).toBe(30_000);
    expect(worker.stats).toMatchObject({ retried: 1, succeeded: 0 });
  });

  it('runs a job again until it succeeds, within its attempts', async () => {
    const worker = startWorker({
      handlers: {
        'w3.flaky': async (job) => {
          if (job.attempts < 3) throw new Error(`transient failure ${job.attempts}`);
          return 'third time lucky';
        },
      },
      backoff: { baseMs: 0, capMs: 0 },
    });
    const { job } = await store.jobs.enqueue({ kind: 'w3.flaky', maxAttempts: 5 });
    expect(await finished(job.id)).toMatchObject({ state: 'succeeded', attempts: 3, result: 'third time lucky', lastError: 'Error: transient failure 2' });
    expect(worker.stats).toMatchObject({ retried: 2, succeeded: 1 });
  });

  it('sends a job whose error says retryable: false to failed at once, and one that fails every attempt to dead', async () => {
    const worker = startWorker({
      handlers: {
        'w4.invalid': async () => Promise.reject(new MovingDataError('invalid_argument', 'payload needs file_id', { retryable: false })),
        'w4.foreign': async () => Promise.reject(Object.assign(new Error('SDK says no'), { retryable: false })),
        'w4.hopeless': async () => Promise.reject(new TypeError('bug')),
      },
      backoff: { baseMs: 0, capMs: 0 },
    });
    const invalid = (await store.jobs.enqueue({ kind: 'w4.invalid', maxAttempts: 5 })).job;
    const foreign = (await store.jobs.enqueue({ kind: 'w4.foreign', maxAttempts: 5 })).job;
    const hopeless = (await store.jobs.enqueue({ kind: 'w4.hopeless', maxAttempts: 3 })).job;
    expect(await finished(invalid.id)).toMatchObject({ state: 'failed', attempts: 1, lastError: 'invalid_argument: payload needs file_id' });
    expect(await finished(foreign.id)).toMatchObject({ state: 'failed', attempts: 1 });
    expect(await finished(hopeless.id)).toMatchObject({ state: 'dead', attempts: 3, lastError: 'TypeError: bug' });
    expect(worker.stats).toMatchObject({ failed: 2, dead: 1, retried: 2 });
  });

  it('gives the handler the progress of an earlier run, and saves its own for the next', async () => {
    const { job } = await store.jobs.enqueue({ kind: 'w5.move' });
    // An earlier run got as far as the copy, then handed the job back.
    await until('the earlier claim', async () => (await store.jobs.claim('earlier', { kinds: ['w5.move'], leaseMs: 60_000 }))[0]);
    await store.jobs.saveProgress(job.id, 'earlier', { step: 'verify', completed: ['copy'] });
    await store.jobs.release(job.id, 'earlier');

    const seen: unknown[] = [];
    startWorker({
      handlers: {
        'w5.move': async (current, ctx) => {
          seen.push(current.progress, ctx.progress);
          await ctx.saveProgress({ step: 'switch', completed: ['copy', 'verify'] });
          seen.push(ctx.progress);
          const step = current.progress['step'];
          return { resumedAt: typeof step === 'string' ? step : null };
        },
      },
    });
    expect(await finished(job.id)).toMatchObject({ state: 'succeeded', result: { resumedAt: 'verify' }, progress: { step: 'switch', completed: ['copy', 'verify'] } });
    expect(seen).toEqual([
      { step: 'verify', completed: ['copy'] },
      { step: 'verify', completed: ['copy'] },
      { step: 'switch', completed: ['copy', 'verify'] },
    ]);
  });

  it('aborts the handler when a heartbeat finds its job taken over, and discards what it returns', async () => {
    // Heartbeats first pretend to land (so the lease quietly runs out), then really go through.
    let heartbeatsLand = false;
    const jobs = withHeartbeat(store.jobs, async (id, workerId, leaseMs) => (heartbeatsLand ? store.jobs.heartbeat(id, workerId, leaseMs) : true));
    let reason: unknown;
    const worker = startWorker({
      metadata: { jobs },
      leaseMs: 150,
      heartbeatMs: 20,
      handlers: {
        'w6.slow': async (_job, ctx) => {
          reason = await aborted(ctx.signal);
          return 'stale result';
        },
      },
    });
    const { job } = await store.jobs.enqueue({ kind: 'w6.slow' });
    await until('the worker to claim it', async () => ((await store.jobs.get(job.id)).lockedBy === worker.id ? true : undefined));
    const taken = await until('the lease to run out and the intruder to claim', async () => (await store.jobs.claim('intruder', { kinds: ['w6.slow'], leaseMs: 60_000 }))[0]);
    heartbeatsLand = true;

    await until('the handler to be aborted', () => reason);
    expect(reason).toBeInstanceOf(JobLeaseLostError);
    expect((reason as Error).message).toContain('taken over');
    await until('the run to be discarded', () => (worker.stats.lost === 1 ? true : undefined));
    expect(await store.jobs.get(job.id)).toEqual(taken);
    expect((await store.jobs.complete(job.id, 'intruder', 'fresh result')).applied).toBe(true);
    expect(worker.stats).toMatchObject({ succeeded: 0, lost: 1 });
  });

  it('never runs a job twice at once when its lease runs out under it and its own claim takes it back', async () => {
    // Heartbeats pretend to land, so the database lease runs out while the run goes on, and
    // the worker's own polling claims the job again.
    const jobs = withHeartbeat(store.jobs, async () => true);
    let runs = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const worker = startWorker({
      metadata: { jobs },
      leaseMs: 100,
      heartbeatMs: 20,
      pollMs: 10,
      handlers: {
        'w6b.slow': async () => {
          runs += 1;
          await held;
          return 'done';
        },
      },
    });
    const { job } = await store.jobs.enqueue({ kind: 'w6b.slow' });
    await until('the worker to claim it again after its lease ran out', async () => ((await store.jobs.get(job.id)).attempts >= 2 ? true : undefined));
    expect(runs).toBe(1);
    release();
    expect(await finished(job.id)).toMatchObject({ state: 'succeeded', result: 'done', lockedBy: worker.id });
    expect(runs).toBe(1);
    expect(worker.stats).toMatchObject({ succeeded: 1, lost: 0 });
  });

  it('aborts the handler when the lease cannot be renewed for a whole lease (database unreachable)', async () => {
    const jobs = withHeartbeat(store.jobs, async () => Promise.reject(new MovingDataError('unavailable', 'connection refused')));
    let reason: unknown;
    const worker = startWorker({
      metadata: { jobs },
      leaseMs: 120,
      heartbeatMs: 20,
      handlers: { 'w7.slow': async (_job, ctx) => void (reason = await aborted(ctx.signal)) },
    });
    const { job } = await store.jobs.enqueue({ kind: 'w7.slow' });
    await until('the handler to be aborted', () => reason);
    expect((reason as Error).message).toContain('not renewed for 120 ms');
    await until('the run to be discarded', () => (worker.stats.lost === 1 ? true : undefined));
    // Nothing was recorded: the lease runs out in the database and another worker redoes it.
    expect(await store.jobs.get(job.id)).toMatchObject({ state: 'running', lockedBy: worker.id, result: null });
    await until('another worker to take it over', async () => (await store.jobs.claim('rescuer', { kinds: ['w7.slow'], leaseMs: 60_000 }))[0]);
  });

  describe('stop', () => {
    it('stops claiming and lets running jobs finish within the grace period', async () => {
      let release: (() => void) | undefined;
      const worker = startWorker({
        handlers: { 'w8.job': async () => new Promise<string>((resolve) => (release = () => resolve('finished'))) },
      });
      const { job } = await store.jobs.enqueue({ kind: 'w8.job' });
      await until('the handler to start', () => release);
      const stopping = worker.stop({ graceMs: 10_000 });
      const later = (await store.jobs.enqueue({ kind: 'w8.job' })).job;
      release?.();
      const report = await stopping;
      expect(report).toMatchObject({ succeeded: 1, released: 0, abandoned: 0 });
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'succeeded', result: 'finished' });
      expect((await store.jobs.get(later.id)).state).toBe('queued'); // not claimed after stop
      expect(worker.inFlight).toBe(0);
    });

    it('aborts jobs that outlast the grace period and hands them back without using up an attempt', async () => {
      let reason: unknown;
      const worker = startWorker({
        concurrency: 2,
        handlers: {
          'w9.long': async (_job, ctx) => {
            reason = await aborted(ctx.signal);
            throw ctx.signal.reason;
          },
        },
      });
      const { job } = await store.jobs.enqueue({ kind: 'w9.long', payload: { step: 1 } });
      await until('the worker to claim it', async () => ((await store.jobs.get(job.id)).state === 'running' ? true : undefined));
      const report = await worker.stop({ graceMs: 30 });
      expect(reason).toBeInstanceOf(WorkerStoppingError);
      expect(report).toMatchObject({ released: 1, abandoned: 0, failed: 0, retried: 0 });
      expect(await store.jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 0, lockedBy: null, leaseUntil: null });
    });

    it('abandons a handler that ignores its abort, leaving the job to lease expiry', async () => {
      let handlerDone: Promise<void> | undefined;
      const worker = startWorker({
        leaseMs: 200,
        handlers: {
          'w10.stubborn': async () => {
            handlerDone = sleep(300);
            await handlerDone;
            return 'too late';
          },
        },
      });
      const { job } = await store.jobs.enqueue({ kind: 'w10.stubborn' });
      await until('the handler to start', () => (handlerDone === undefined ? undefined : true));
      const report = await worker.stop({ graceMs: 10, abandonMs: 10 });
      expect(report.abandoned).toBe(1);
      // Its heartbeats have stopped: the lease runs out and another worker takes the job over.
      const rescued = await until('another worker to take it over', async () => (await store.jobs.claim('rescuer', { kinds: ['w10.stubborn'], leaseMs: 60_000 }))[0]);
      expect(rescued).toMatchObject({ id: job.id, attempts: 2 });
      await handlerDone;
      expect((await store.jobs.get(job.id)).lockedBy).toBe('rescuer');
    });

    it('stops when its signal is aborted', async () => {
      const controller = new AbortController();
      const worker = startWorker({ handlers: { 'w11.noop': async () => null }, signal: controller.signal });
      controller.abort();
      const report = await worker.stop();
      expect(report.claimed).toBe(0);
      const { job } = await store.jobs.enqueue({ kind: 'w11.noop' });
      await sleep(60); // three poll intervals: a running worker would have claimed it
      expect((await store.jobs.get(job.id)).state).toBe('queued');
    });
  });

  it('refuses options that cannot work', () => {
    const handlers: JobHandlers = { noop: async () => null };
    const make = (options: Partial<JobWorkerOptions>) => () => createWorker({ metadata: store, handlers, ...options });
    expect(make({ handlers: {} })).toThrow(/at least one job kind/);
    expect(make({ kinds: ['noop', 'replicate'] })).toThrow(/no handler for job kind replicate/);
    expect(make({ concurrency: 0 })).toThrow(/concurrency/);
    expect(make({ leaseMs: 1000, heartbeatMs: 1000 })).toThrow(/heartbeatMs/);
    expect(make({ backoff: { baseMs: 10, capMs: 1 } })).toThrow(/backoff/);
    const worker = createWorker({ metadata: store, handlers, leaseMs: 30_000 });
    expect([worker.heartbeatMs, worker.kinds, worker.concurrency]).toEqual([10_000, ['noop'], 4]);
  });
});

/**
 * The job queue's part of the metadata conformance suite (`store.jobs`), run by
 * `runMetadataConformance` for every adapter. Leases in these tests are tens of milliseconds,
 * and every wait for one to run out polls with a deadline.
 */
import { describe, expect, it } from 'vitest';
import type { Job, JobQueue, MetadataStore, NewJob } from '../port.ts';
import { expectCode } from './expect.ts';

export interface JobsTarget {
  /** Another store on the same target (call again for several, where the adapter allows). */
  open(): Promise<MetadataStore>;
}

const MINUTE = 60_000;

/** Polls `probe` every 10 ms until it returns a value, failing after `timeoutMs`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Claims exactly one job or fails the test. */
async function claimOne(jobs: JobQueue, workerId: string, leaseMs = MINUTE, kinds?: readonly string[]): Promise<Job> {
  const claimed = await jobs.claim(workerId, { leaseMs, limit: 1, ...(kinds === undefined ? {} : { kinds }) });
  expect(claimed, `${workerId} expected to claim one job`).toHaveLength(1);
  return claimed[0] as Job;
}

/** A job of its own kind, claimed by `workerId`: later claims of other kinds never see it. */
async function runningJob(jobs: JobQueue, kind: string, workerId: string, extra: Omit<NewJob, 'kind'> = {}, leaseMs = MINUTE): Promise<Job> {
  await jobs.enqueue({ kind, ...extra });
  return claimOne(jobs, workerId, leaseMs, [kind]);
}

export function describeJobQueueConformance(target: () => Promise<JobsTarget>): void {
  async function freshStore(): Promise<MetadataStore> {
    return (await target()).open();
  }

  describe('jobs', () => {
    describe('enqueue', () => {
      it('stores a job with its defaults, and returns the unfinished job again for the same kind and dedupe key', async () => {
        const { jobs } = await freshStore();
        const payload = { fileId: '42', locations: ['aws', 'gcp'], note: 'ünï "quoted" \\ back', n: 1.5, deep: { ok: true, none: null } };
        const first = await jobs.enqueue({ kind: 'replicate', payload, dedupeKey: 'replicate:42:1' });
        expect(first.created).toBe(true);
        expect(first.job).toMatchObject({
          kind: 'replicate',
          payload,
          dedupeKey: 'replicate:42:1',
          state: 'queued',
          attempts: 0,
          maxAttempts: 10,
          lockedBy: null,
          leaseUntil: null,
          lastError: null,
          progress: {},
          result: null,
          finishedAt: null,
        });
        expect(first.job.runAfter.getTime()).toBe(first.job.createdAt.getTime());
        expect(await jobs.get(first.job.id)).toEqual(first.job);

        const again = await jobs.enqueue({ kind: 'replicate', payload: { other: true }, dedupeKey: 'replicate:42:1' });
        expect(again).toEqual({ job: first.job, created: false });
        // The key is per kind, and jobs without one never merge.
        expect((await jobs.enqueue({ kind: 'verify', dedupeKey: 'replicate:42:1' })).created).toBe(true);
        const [a, b] = [await jobs.enqueue({ kind: 'noop' }), await jobs.enqueue({ kind: 'noop' })];
        expect(a.job.id).not.toBe(b.job.id);

        // While it runs it still holds the key; once finished, the same work may be enqueued anew.
        const claimed = await claimOne(jobs, 'w1', MINUTE, ['replicate']);
        expect((await jobs.enqueue({ kind: 'replicate', dedupeKey: 'replicate:42:1' })).job.id).toBe(claimed.id);
        expect((await jobs.complete(claimed.id, 'w1', { copied: 2 })).applied).toBe(true);
        const fresh = await jobs.enqueue({ kind: 'replicate', dedupeKey: 'replicate:42:1' });
        expect(fresh.created).toBe(true);
        expect(fresh.job.id).not.toBe(first.job.id);
      });

      it('lets exactly one of 10 concurrent producers create a deduplicated job', async () => {
        const t = await target();
        const store = await t.open();
        const producers = store.features.multiProcess ? [store, await t.open(), await t.open()] : [store];
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (producers[i % producers.length] ?? store).jobs.enqueue({ kind: 'repair', dedupeKey: 'repair:7:aws', payload: { i } })),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
        expect((await store.jobs.list()).items).toHaveLength(1);
      });

      it('enqueues 600 jobs in one batch, results in input order, deduplicated within the batch and against the queue', async () => {
        const { jobs } = await freshStore();
        const existing = await jobs.enqueue({ kind: 'replicate', dedupeKey: 'k-existing' });
        const inputs: NewJob[] = [];
        for (let i = 0; i < 300; i += 1) inputs.push({ kind: 'replicate', dedupeKey: `k${i}`, payload: { i } });
        for (let i = 0; i < 150; i += 1) inputs.push({ kind: 'replicate', dedupeKey: `k${i}`, payload: { i, duplicate: true } });
        for (let i = 0; i < 149; i += 1) inputs.push({ kind: 'verify', payload: { i } }); // no key: never merged
        inputs.push({ kind: 'replicate', dedupeKey: 'k-existing' });

        const results = await jobs.enqueueMany(inputs);
        expect(results).toHaveLength(600);
        results.forEach((result, index) => {
          const input = inputs[index] as NewJob;
          expect(result.job.kind).toBe(input.kind);
          expect(result.job.dedupeKey).toBe(input.dedupeKey ?? null);
          if (input.kind === 'verify') expect(result.job.payload).toEqual(input.payload);
        });
        expect(results.slice(0, 300).every((r) => r.created)).toBe(true);
        results.slice(300, 450).forEach((r, i) => expect(r).toEqual({ job: results[i]?.job, created: false }));
        expect(results.slice(450, 599).every((r) => r.created)).toBe(true);
        expect(results[599]).toEqual({ job: existing.job, created: false });

        let total = 0;
        let cursor: string | undefined;
        do {
          const page = await jobs.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
          total += page.items.length;
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        expect(total).toBe(1 + 300 + 149);
        expect(await jobs.enqueueMany([])).toEqual([]);
      });

      it('refuses malformed jobs with stable codes and enqueues nothing for them', async () => {
        const { jobs } = await freshStore();
        await expectCode(jobs.enqueue({ kind: 'Not A Kind' }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: '' }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: 'x', payload: [] as never }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: 'x', payload: { big: 'x'.repeat(70_000) } }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: 'x', payload: { when: new Date() as never } }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: 'x', dedupeKey: '' }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: 'x', maxAttempts: 0 }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: 'x', delayMs: -1 }), 'invalid_argument');
        await expectCode(jobs.enqueue({ kind: 'x', delayMs: 5, runAfter: new Date() }), 'invalid_argument');
        await expectCode(jobs.enqueueMany([{ kind: 'x' }, { kind: 'BAD' }]), 'invalid_argument');
        expect((await jobs.list()).items).toEqual([]);
      });
    });

    describe('claim', () => {
      it('claims due jobs in runAfter order, only the kinds asked for, and none before runAfter', async () => {
        const { jobs } = await freshStore();
        const now = Date.now();
        for (const minutesAgo of [3, 1, 5, 2, 4]) await jobs.enqueue({ kind: 'move', runAfter: new Date(now - minutesAgo * MINUTE), payload: { minutesAgo } });
        await jobs.enqueue({ kind: 'move', delayMs: 10 * MINUTE, payload: { later: true } });
        await jobs.enqueue({ kind: 'verify', runAfter: new Date(now - 60 * MINUTE) });

        const order: unknown[] = [];
        for (;;) {
          const claimed = await jobs.claim('w1', { kinds: ['move'], limit: 1, leaseMs: MINUTE });
          if (claimed.length === 0) break;
          order.push(claimed[0]?.payload['minutesAgo']);
        }
        expect(order).toEqual([5, 4, 3, 2, 1]);
        // The delayed job waits; the other kind is still there for whoever handles it.
        const rest = await jobs.claim('w2', { limit: 10, leaseMs: MINUTE });
        expect(rest.map((j) => j.kind)).toEqual(['verify']);
        expect(await jobs.claim('w2', { limit: 10, leaseMs: MINUTE })).toEqual([]);
      });

      it('stamps a claim with its worker, one more attempt and a lease on the database clock', async () => {
        const { jobs } = await freshStore();
        const { job } = await jobs.enqueue({ kind: 'replicate' });
        const claimed = await claimOne(jobs, 'worker-a', 45_000);
        expect(claimed).toMatchObject({ id: job.id, state: 'running', attempts: 1, lockedBy: 'worker-a', finishedAt: null });
        expect((claimed.leaseUntil?.getTime() ?? 0) - claimed.updatedAt.getTime()).toBe(45_000);
        expect(await jobs.get(job.id)).toEqual(claimed);
      });

      it('never hands one job to two of 20 concurrent claimers', async () => {
        const t = await target();
        const store = await t.open();
        const stores = store.features.multiProcess ? [store, await t.open(), await t.open()] : [store];
        await store.jobs.enqueueMany(Array.from({ length: 200 }, (_, i) => ({ kind: 'replicate', payload: { i } })));

        const claimedBy = new Map<string, string[]>();
        await Promise.all(
          Array.from({ length: 20 }, async (_, n) => {
            const { jobs } = stores[n % stores.length] ?? store;
            for (;;) {
              const claimed = await jobs.claim(`claimer-${n}`, { limit: 3, leaseMs: MINUTE });
              if (claimed.length === 0) return;
              for (const job of claimed) {
                expect(job.lockedBy).toBe(`claimer-${n}`);
                claimedBy.set(job.id, [...(claimedBy.get(job.id) ?? []), `claimer-${n}`]);
              }
            }
          }),
        );
        expect(claimedBy.size).toBe(200);
        expect([...claimedBy.values()].filter((owners) => owners.length > 1)).toEqual([]);
        const { items } = await store.jobs.list({ limit: 1000 });
        expect(items.every((job) => job.state === 'running' && job.attempts === 1 && claimedBy.get(job.id)?.[0] === job.lockedBy)).toBe(true);
      });
    });

    describe('leases', () => {
      it('extends only the owner’s lease', async () => {
        const { jobs } = await freshStore();
        const job = await runningJob(jobs, 'replicate', 'w1', {}, MINUTE);
        expect(await jobs.heartbeat(job.id, 'w1', 2 * MINUTE)).toBe(true);
        const renewed = await jobs.get(job.id);
        expect((renewed.leaseUntil?.getTime() ?? 0) - renewed.updatedAt.getTime()).toBe(2 * MINUTE);
        expect(await jobs.heartbeat(job.id, 'w2', 2 * MINUTE)).toBe(false);
        expect(await jobs.heartbeat('999999', 'w1', MINUTE)).toBe(false);
        expect(await jobs.heartbeat('not-an-id', 'w1', MINUTE)).toBe(false);
        const { job: queued } = await jobs.enqueue({ kind: 'other', delayMs: MINUTE });
        expect(await jobs.heartbeat(queued.id, 'w1', MINUTE)).toBe(false);
        await expectCode(jobs.heartbeat(job.id, 'w1', 0), 'invalid_argument');
      });

      it('lets another worker take over a job whose lease ran out, with attempts counted and progress kept; the old owner is refused from then on', async () => {
        const { jobs } = await freshStore();
        const { job } = await jobs.enqueue({ kind: 'move', payload: { fileId: '9' } });
        const first = await claimOne(jobs, 'w1', 1000);
        expect(await jobs.saveProgress(job.id, 'w1', { step: 'verify', completed: ['copy'] })).toBe(true);
        expect(await jobs.claim('w2', { limit: 5, leaseMs: MINUTE })).toEqual([]); // still leased

        // w1 stops heartbeating (killed): once the lease has run out, w2's claim takes the job.
        const taken = await eventually('the lease to run out', async () => (await jobs.claim('w2', { limit: 5, leaseMs: MINUTE }))[0]);
        expect(taken).toMatchObject({ id: job.id, state: 'running', attempts: first.attempts + 1, lockedBy: 'w2', progress: { step: 'verify', completed: ['copy'] } });
        expect(taken.lastError).toContain('lease of w1 ran out');

        // Every call of the old owner is now refused, and changes nothing.
        expect(await jobs.heartbeat(job.id, 'w1', MINUTE)).toBe(false);
        expect(await jobs.saveProgress(job.id, 'w1', { step: 'copy' })).toBe(false);
        expect(await jobs.release(job.id, 'w1')).toBe(false);
        const lateComplete = await jobs.complete(job.id, 'w1', { stale: true });
        expect(lateComplete).toEqual({ applied: false, current: taken });
        const lateFail = await jobs.fail(job.id, 'w1', 'stale failure');
        expect(lateFail).toEqual({ applied: false, current: taken });
        expect(await jobs.get(job.id)).toEqual(taken);

        const done = await jobs.complete(job.id, 'w2', { moved: true });
        expect(done.applied && done.value).toMatchObject({ state: 'succeeded', result: { moved: true }, lockedBy: 'w2', leaseUntil: null });
        expect(done.applied && done.value.finishedAt).toBeInstanceOf(Date);
      });

      it('keeps an expired lease its owner’s until another claim takes it, and counts it as stalled meanwhile', async () => {
        const { jobs } = await freshStore();
        const job = await runningJob(jobs, 'verify', 'w1', {}, 30);
        await eventually('the lease to run out', async () => ((await jobs.counts())['verify']?.stalled === 1 ? true : undefined));
        expect(await jobs.heartbeat(job.id, 'w1', MINUTE)).toBe(true);
        expect((await jobs.counts())['verify']?.stalled).toBe(0);
        expect((await jobs.complete(job.id, 'w1', 'late but fine')).applied).toBe(true);
        expect((await jobs.get(job.id)).result).toBe('late but fine');
      });

      it('lets exactly one of two racing workers settle a job after a takeover', async () => {
        const { jobs } = await freshStore();
        const { job } = await jobs.enqueue({ kind: 'repair' });
        await claimOne(jobs, 'w1', 30);
        await eventually('the takeover', async () => (await jobs.claim('w2', { leaseMs: MINUTE }))[0]);
        const [old, current] = await Promise.all([jobs.complete(job.id, 'w1', 'old'), jobs.complete(job.id, 'w2', 'new')]);
        expect([old.applied, current.applied]).toEqual([false, true]);
        expect((await jobs.get(job.id)).result).toBe('new');
      });

      it('makes a job dead, not claimed again, when it loses its worker on its last attempt', async () => {
        const { jobs } = await freshStore();
        const { job } = await jobs.enqueue({ kind: 'replicate', maxAttempts: 2 });
        await claimOne(jobs, 'w1', 30);
        await eventually('the first takeover', async () => (await jobs.claim('w2', { leaseMs: 30 }))[0]);
        // w2 dies too: the next claim finds the attempts used up.
        const dead = await eventually('the job to go dead', async () => {
          expect(await jobs.claim('w3', { leaseMs: MINUTE })).toEqual([]);
          const current = await jobs.get(job.id);
          return current.state === 'dead' ? current : undefined;
        });
        expect(dead).toMatchObject({ attempts: 2, lockedBy: 'w2', leaseUntil: null });
        expect(dead.lastError).toContain('lease of w2 ran out');
        expect(dead.finishedAt).toBeInstanceOf(Date);
      });
    });

    describe('outcomes', () => {
      it('backs off: a failed job returns to the queue at now + retryDelayMs, keeping its progress', async () => {
        const { jobs } = await freshStore();
        const job = await runningJob(jobs, 'repair', 'w1');
        await jobs.saveProgress(job.id, 'w1', { tried: ['aws'] });
        const failed = await jobs.fail(job.id, 'w1', 'S3 unavailable', { retryDelayMs: 90_000 });
        expect(failed.applied).toBe(true);
        const value = (failed as { value: Job }).value;
        expect(value).toMatchObject({ state: 'queued', attempts: 1, lockedBy: null, leaseUntil: null, lastError: 'S3 unavailable', progress: { tried: ['aws'] }, finishedAt: null });
        expect(value.runAfter.getTime() - value.updatedAt.getTime()).toBe(90_000);
        expect(await jobs.claim('w2', { leaseMs: MINUTE })).toEqual([]);

        // Without a delay it is due at once, and the next run sees the progress.
        const other = await runningJob(jobs, 'repair-now', 'w1');
        expect((await jobs.fail(other.id, 'w1', 'blip')).applied).toBe(true);
        expect(await claimOne(jobs, 'w2')).toMatchObject({ id: other.id, attempts: 2, lockedBy: 'w2', lastError: 'blip' });
      });

      it('goes dead after maxAttempts failed runs, and failed at once for a permanent error', async () => {
        const { jobs } = await freshStore();
        const { job } = await jobs.enqueue({ kind: 'replicate', maxAttempts: 2 });
        await claimOne(jobs, 'w1');
        expect((await jobs.fail(job.id, 'w1', 'first')).applied).toBe(true);
        expect(await claimOne(jobs, 'w2')).toMatchObject({ id: job.id, attempts: 2 });
        const last = await jobs.fail(job.id, 'w2', 'second', { retryDelayMs: 1000 });
        expect(last.applied && last.value).toMatchObject({ state: 'dead', attempts: 2, lastError: 'second', lockedBy: 'w2', leaseUntil: null });
        expect(last.applied && last.value.finishedAt).toBeInstanceOf(Date);
        expect(await jobs.claim('w3', { leaseMs: MINUTE, limit: 10 })).toEqual([]);

        const permanent = await runningJob(jobs, 'verify', 'w1', { maxAttempts: 5 });
        const failed = await jobs.fail(permanent.id, 'w1', 'no such file', { retryable: false });
        expect(failed.applied && failed.value).toMatchObject({ state: 'failed', attempts: 1, lastError: 'no such file' });
        expect(failed.applied && failed.value.finishedAt).toBeInstanceOf(Date);
        // Once finished, nobody can change it any more.
        expect((await jobs.complete(permanent.id, 'w1')).applied).toBe(false);
        expect(await jobs.claim('w3', { leaseMs: MINUTE, limit: 10 })).toEqual([]);
      });

      it('stores any JSON result, and null for none', async () => {
        const { jobs } = await freshStore();
        for (const result of [{ copied: ['aws', 'gcp'], bytes: 2 ** 40 }, ['a', 1, true, null], 'text with "quotes"', 0, false]) {
          const job = await runningJob(jobs, 'noop', 'w1');
          const done = await jobs.complete(job.id, 'w1', result);
          expect(done.applied && done.value.result).toEqual(result);
          expect((await jobs.get(job.id)).result).toEqual(result);
        }
        const job = await runningJob(jobs, 'noop', 'w1');
        expect((await jobs.complete(job.id, 'w1')).applied && (await jobs.get(job.id)).result).toBeNull();
        await expectCode(jobs.complete('999999', 'w1'), 'not_found');
        await expectCode(jobs.fail('nope', 'w1', 'x'), 'not_found');
      });

      it('releases a claimed job back to the queue without using up an attempt', async () => {
        const { jobs } = await freshStore();
        const job = await runningJob(jobs, 'move', 'w1');
        await jobs.saveProgress(job.id, 'w1', { step: 'copy' });
        expect(await jobs.release(job.id, 'w2')).toBe(false);
        expect(await jobs.release(job.id, 'w1')).toBe(true);
        expect(await jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 0, lockedBy: null, leaseUntil: null, progress: { step: 'copy' } });
        expect(await claimOne(jobs, 'w2')).toMatchObject({ id: job.id, attempts: 1 });
        expect(await jobs.release(job.id, 'w1')).toBe(false);
      });
    });

    describe('operators', () => {
      it('lists jobs by id with keyset cursors, exactly once each, filtered by state and kind', async () => {
        const { jobs } = await freshStore();
        const created = await jobs.enqueueMany(Array.from({ length: 25 }, (_, i) => ({ kind: i % 2 === 0 ? 'even' : 'odd', payload: { i } })));
        const ids = created.map((r) => r.job.id);
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await jobs.list({ limit: 10, ...(cursor === undefined ? {} : { cursor }) });
          seen.push(...page.items.map((j) => j.id));
          cursor = page.nextCursor;
          // A job enqueued mid-scan lands after the cursor: seen once, not skipped.
          if (seen.length === 10) ids.push((await jobs.enqueue({ kind: 'odd', payload: { late: true } })).job.id);
        } while (cursor !== undefined);
        expect(seen).toEqual(ids);

        const evenRunning = await claimOne(jobs, 'w1', MINUTE, ['even']);
        expect((await jobs.list({ kind: 'even', state: 'running' })).items.map((j) => j.id)).toEqual([evenRunning.id]);
        expect((await jobs.list({ kind: 'even' })).items).toHaveLength(13);
        expect((await jobs.list({ state: 'queued', limit: 1000 })).items).toHaveLength(25);
        await expectCode(jobs.list({ cursor: 'garbage' }), 'invalid_cursor');
        await expectCode(jobs.list({ limit: 1001 }), 'invalid_argument');
        await expectCode(jobs.list({ state: 'sleeping' as never }), 'invalid_argument');
      });

      it('lists jobs newest first with their own keyset cursors, filtered, exactly once each', async () => {
        const { jobs } = await freshStore();
        const created = await jobs.enqueueMany(Array.from({ length: 23 }, (_, i) => ({ kind: i % 3 === 0 ? 'scan' : 'repair', payload: { i } })));
        const newestFirst = created.map((r) => r.job.id).reverse();
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await jobs.list({ order: 'desc', limit: 10, ...(cursor === undefined ? {} : { cursor }) });
          seen.push(...page.items.map((j) => j.id));
          cursor = page.nextCursor;
          // A job enqueued mid-scan is newer than the cursor: not on the later pages.
          if (seen.length === 10) await jobs.enqueue({ kind: 'repair', payload: { late: true } });
        } while (cursor !== undefined);
        expect(seen).toEqual(newestFirst);

        const scans = await jobs.list({ order: 'desc', kind: 'scan', limit: 3 });
        expect(scans.items.map((j) => j.id)).toEqual(newestFirst.filter((_, i) => (22 - i) % 3 === 0).slice(0, 3));
        const rest = await jobs.list({ order: 'desc', kind: 'scan', limit: 1000, ...(scans.nextCursor === undefined ? {} : { cursor: scans.nextCursor }) });
        expect(rest.items).toHaveLength(5);
        expect(rest.nextCursor).toBeUndefined();
        const running = await claimOne(jobs, 'w1', MINUTE, ['scan']);
        expect((await jobs.list({ order: 'desc', state: 'running' })).items.map((j) => j.id)).toEqual([running.id]);
        // A cursor holds to the order it was made in.
        const ascending = await jobs.list({ limit: 1 });
        await expectCode(jobs.list({ order: 'desc', ...(ascending.nextCursor === undefined ? {} : { cursor: ascending.nextCursor }) }), 'invalid_cursor');
        await expectCode(jobs.list({ ...(scans.nextCursor === undefined ? {} : { cursor: scans.nextCursor }) }), 'invalid_cursor');
        await expectCode(jobs.list({ order: 'sideways' as never }), 'invalid_argument');
      });

      it('counts jobs by kind and state, with retries waiting', async () => {
        const { jobs } = await freshStore();
        await runningJob(jobs, 'replicate', 'w1');
        const succeeded = await runningJob(jobs, 'replicate', 'w1');
        await jobs.complete(succeeded.id, 'w1');
        const failed = await runningJob(jobs, 'replicate', 'w1');
        await jobs.fail(failed.id, 'w1', 'bad payload', { retryable: false });
        const dead = await runningJob(jobs, 'replicate', 'w1', { maxAttempts: 1 });
        await jobs.fail(dead.id, 'w1', 'out of attempts');
        const retrying = await runningJob(jobs, 'replicate', 'w1');
        await jobs.fail(retrying.id, 'w1', 'try later', { retryDelayMs: MINUTE });
        await jobs.enqueue({ kind: 'replicate' });
        await jobs.enqueue({ kind: 'move' });

        expect(await jobs.counts()).toEqual({
          move: { queued: 1, running: 0, succeeded: 0, failed: 0, dead: 0, retrying: 0, stalled: 0 },
          replicate: { queued: 2, running: 1, succeeded: 1, failed: 1, dead: 1, retrying: 1, stalled: 0 },
        });
      });

      it('requeues dead jobs (failed ones on request) with fresh attempts, never two unfinished jobs per dedupe key', async () => {
        const { jobs } = await freshStore();
        const dieOnce = async (input: NewJob): Promise<Job> => {
          const job = await runningJob(jobs, input.kind, 'w1', { ...input, maxAttempts: 1 });
          await jobs.saveProgress(job.id, 'w1', { step: 'verify' });
          const outcome = await jobs.fail(job.id, 'w1', `gave up on ${job.id}`);
          expect(outcome.applied && outcome.value.state).toBe('dead');
          return job;
        };
        const olderK = await dieOnce({ kind: 'move', dedupeKey: 'K' });
        const newerK = await dieOnce({ kind: 'move', dedupeKey: 'K' });
        const keyless = await dieOnce({ kind: 'move' });
        const deadL = await dieOnce({ kind: 'move', dedupeKey: 'L' });
        const otherKind = await dieOnce({ kind: 'verify' });
        const permanent = await runningJob(jobs, 'move', 'w1');
        await jobs.fail(permanent.id, 'w1', 'bad', { retryable: false });
        const liveL = (await jobs.enqueue({ kind: 'move', dedupeKey: 'L' })).job;

        expect(await jobs.requeueDead({ kind: 'move' })).toBe(2);
        expect(await jobs.get(newerK.id)).toMatchObject({ state: 'queued', attempts: 0, lockedBy: null, finishedAt: null, progress: { step: 'verify' }, lastError: `gave up on ${newerK.id}` });
        expect((await jobs.get(keyless.id)).state).toBe('queued');
        expect((await jobs.get(olderK.id)).state).toBe('dead'); // its key is live again (newerK)
        expect((await jobs.get(deadL.id)).state).toBe('dead'); // liveL holds the key
        expect((await jobs.get(liveL.id)).state).toBe('queued');
        expect((await jobs.get(otherKind.id)).state).toBe('dead');
        expect((await jobs.get(permanent.id)).state).toBe('failed');

        expect(await jobs.requeueDead({ includeFailed: true, ids: [permanent.id, otherKind.id, 'nope'] })).toBe(2);
        expect((await jobs.get(permanent.id)).state).toBe('queued');
        expect(await jobs.requeueDead({ ids: ['999999'] })).toBe(0);
        expect(await jobs.requeueDead({ ids: [] })).toBe(0);
        expect(await jobs.requeueDead()).toBe(0);
      });

      it('purges old finished jobs only, at most `limit` per call', async () => {
        const { jobs } = await freshStore();
        for (let i = 0; i < 3; i += 1) {
          const job = await runningJob(jobs, 'noop', 'w1');
          await jobs.complete(job.id, 'w1');
        }
        const dead = await runningJob(jobs, 'noop', 'w1', { maxAttempts: 1 });
        await jobs.fail(dead.id, 'w1', 'x');
        await runningJob(jobs, 'noop', 'w1');
        await jobs.enqueue({ kind: 'noop', delayMs: MINUTE });

        expect(await jobs.purgeFinished({ olderThanMs: 10 * MINUTE })).toBe(0);
        // olderThanMs 0: finished strictly before the database's now, a millisecond away at most.
        const calls: number[] = [];
        await eventually('every succeeded job to be purged', async () => {
          calls.push(await jobs.purgeFinished({ olderThanMs: 0, limit: 2 }));
          return calls.reduce((a, b) => a + b, 0) === 3 ? true : undefined;
        });
        expect(Math.max(...calls)).toBeLessThanOrEqual(2);
        expect(await jobs.counts()).toEqual({ noop: { queued: 1, running: 1, succeeded: 0, failed: 0, dead: 1, retrying: 0, stalled: 0 } });
        await eventually('the dead job to be purged', async () => ((await jobs.purgeFinished({ olderThanMs: 0, states: ['dead'] })) === 1 ? true : undefined));
        await expectCode(jobs.purgeFinished({ olderThanMs: 0, states: ['running'] }), 'invalid_argument');
        await expectCode(jobs.purgeFinished({ olderThanMs: -1 }), 'invalid_argument');
      });

      it('reports unknown jobs and bad worker calls with stable codes', async () => {
        const { jobs } = await freshStore();
        await expectCode(jobs.get('999999'), 'not_found');
        await expectCode(jobs.get('not-an-id'), 'not_found');
        await expectCode(jobs.claim('', { leaseMs: MINUTE }), 'invalid_argument');
        await expectCode(jobs.claim('w1', { leaseMs: 0 }), 'invalid_argument');
        await expectCode(jobs.claim('w1', { leaseMs: MINUTE, limit: 1001 }), 'invalid_argument');
        await expectCode(jobs.claim('w1', { leaseMs: MINUTE, kinds: [] }), 'invalid_argument');
        await expectCode(jobs.claim('w1', { leaseMs: MINUTE, kinds: ['Bad'] }), 'invalid_argument');
        const job = await runningJob(jobs, 'noop', 'w1');
        await expectCode(jobs.saveProgress(job.id, 'w1', ['not', 'an', 'object'] as never), 'invalid_argument');
        await expectCode(jobs.fail(job.id, 'w1', 'x', { retryDelayMs: -5 }), 'invalid_argument');
        expect((await jobs.get(job.id)).state).toBe('running');
      });
    });
  });
}

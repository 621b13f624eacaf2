/**
 * The operators' endpoints the dashboard's Replication and Tiering pages use, on embedded
 * defaults (PGlite, local-disk locations, embedded bus) and on the lab (PostgreSQL, MinIO,
 * Azurite, fake-gcs-server): GET /jobs (newest first, filters,
 * keyset pages, counts), POST /jobs/{id}/retry (a dead job runs again; audited; 404, 409, 403)
 * and GET /tiering/policies (the policy comparison over the stored access statistics).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createWorker, type JobWorker } from '../../src/jobs/worker.ts';
import { labEnv } from '../lab.ts';
import { until } from '../until.ts';

const ADMIN = 'demo-admin-token-for-operations-tests';

interface JobItem {
  id: string;
  kind: string;
  state: string;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  location: string | null;
  subject: string | null;
  created_at: string;
  finished_at: string | null;
}
interface JobList {
  jobs: JobItem[];
  next_cursor: string | null;
  counts: Record<string, Record<string, number>>;
}

const setups: Array<[string, () => Record<string, string>]> = [
  ['embedded defaults', () => ({})],
  ['the lab', () => ({ ...labEnv(), DATABASE_SCHEMA: `operations_${process.pid}_${Date.now().toString(36)}`, S3_BUCKET: 'operations-api', AZURE_CONTAINER: 'operations-api', GCS_BUCKET: 'operations-api' })],
];

describe.each(setups)('operations API on %s', (_label, environment) => {
  let app: App;
  let dataDir: string;
  let analyst: string;
  let operator: string;
  let worker: JobWorker | undefined;

  const call = (method: 'GET' | 'POST', url: string, token: string | undefined, body?: object) =>
    app.api.inject({
      method,
      url,
      headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-operations-'));
    app = await createApp(loadConfig({ ...environment(), MOVINGDATA_DEMO: '1', MOVINGDATA_ADMIN_TOKEN: ADMIN, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'silent', CONSISTENCY_SCAN_INTERVAL_S: '0' }));
    analyst = (await call('POST', '/tokens', ADMIN, { name: 'ana', roles: ['analytics'] })).json<{ token: string }>().token;
    operator = (await call('POST', '/tokens', ADMIN, { name: 'opal', roles: ['operations'] })).json<{ token: string }>().token;
    expect((await call('POST', '/seed', ADMIN)).statusCode).toBe(200);
  });

  afterAll(async () => {
    await worker?.stop({ graceMs: 1000 });
    worker = undefined;
    await app?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('GET /jobs lists jobs newest first, by kind and state, a page at a time, with the counts', async () => {
    // Two scans of every location: six scan jobs, the second round newer than the first.
    for (let round = 0; round < 2; round += 1) expect((await call('POST', '/consistency/scan', ADMIN, { wait: true })).json<{ ok: boolean }>().ok).toBe(true);

    const all = await call('GET', '/jobs', operator);
    expect(all.statusCode).toBe(200);
    const listed = all.json<JobList>();
    const ids = listed.jobs.map((j) => BigInt(j.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)));
    expect(listed.counts['scan']).toMatchObject({ succeeded: 6, dead: 0 });

    const scans = (await call('GET', '/jobs?kind=scan&state=succeeded', operator)).json<JobList>();
    expect(scans.jobs).toHaveLength(6);
    expect(scans.jobs.every((j) => j.kind === 'scan' && j.state === 'succeeded' && j.finished_at !== null)).toBe(true);
    expect(scans.jobs.map((j) => j.location).slice(0, 3).sort()).toEqual(['aws', 'azure', 'gcp']);

    // Keyset pages: every scan exactly once, newest first.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: JobList = (await call('GET', `/jobs?kind=scan&limit=4${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, ADMIN)).json<JobList>();
      expect(page.jobs.length).toBeLessThanOrEqual(4);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual(scans.jobs.map((j) => j.id));

    expect((await call('GET', '/jobs?state=dead', ADMIN)).json<JobList>().jobs).toEqual([]);
    for (const [url, code] of [
      ['/jobs?cursor=not-a-cursor', 'invalid_cursor'],
      ['/jobs?state=sleeping', 'invalid_argument'],
      ['/jobs?kind=Not%20A%20Kind', 'invalid_argument'],
      ['/jobs?limit=0', 'invalid_argument'],
      ['/jobs?limit=501', 'invalid_argument'],
    ] as const) {
      const refused = await call('GET', url, ADMIN);
      expect(refused.statusCode, url).toBe(400);
      expect(refused.json<{ error: { code: string } }>().error.code, url).toBe(code);
    }
    const denied = await call('GET', '/jobs', analyst);
    expect(denied.statusCode).toBe(403);
    expect(denied.json<{ error: { code: string } }>().error.code).toBe('forbidden');
    expect((await call('GET', '/jobs', undefined)).statusCode).toBe(401);
  });

  it('POST /jobs/{id}/retry puts a dead job back with fresh attempts: it runs again, and the retry is audited', async () => {
    // A kind only this test's worker runs: it fails its first run, succeeds after.
    let runs = 0;
    worker = createWorker({
      metadata: app.context.metadata,
      id: 'operations-test-worker',
      pollMs: 20,
      backoff: { baseMs: 0, capMs: 0 },
      handlers: {
        'flaky-test': async () => {
          runs += 1;
          if (runs === 1) throw new Error('the first run fails');
          return { runs };
        },
        'doomed-test': async () => Promise.reject(new Error('never works')),
      },
    });
    worker.start();
    const { job } = await app.context.metadata.jobs.enqueue({ kind: 'flaky-test', payload: { location: 'aws', key: 'reports/q1.csv' }, maxAttempts: 1 });
    const dead = await until('the job to be dead-lettered', async () => {
      const item = (await call('GET', '/jobs?kind=flaky-test', ADMIN)).json<JobList>().jobs[0];
      return item?.state === 'dead' ? item : undefined;
    }, 15_000, 50);
    expect(dead).toMatchObject({ id: job.id, attempts: 1, max_attempts: 1, last_error: 'Error: the first run fails', location: 'aws', subject: 'reports/q1.csv' });
    expect((await call('GET', '/consistency/status', ADMIN)).json<{ retries: { dead: number } }>().retries.dead).toBe(1);

    // Not an operator: refused, and the job stays dead.
    const refused = await call('POST', `/jobs/${job.id}/retry`, analyst);
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('forbidden');
    expect((await app.context.metadata.jobs.get(job.id)).state).toBe('dead');

    const retried = await call('POST', `/jobs/${job.id}/retry`, operator);
    expect(retried.statusCode).toBe(200);
    // The answer is the job as it stands after the requeue: the worker (polling every 20 ms) may
    // already have claimed it again, its fresh attempts then counting that one run.
    const answered = retried.json<{ ok: boolean; job: JobItem }>();
    expect(answered).toMatchObject({ ok: true, job: { id: job.id } });
    expect(['queued', 'running', 'succeeded']).toContain(answered.job.state);
    expect(answered.job.attempts).toBe(answered.job.state === 'queued' ? 0 : 1);
    if (answered.job.state !== 'succeeded') expect(answered.job.finished_at).toBeNull();

    const done = await until('the retried job to succeed', async () => {
      const again = await call('GET', `/jobs/${job.id}`, ADMIN);
      const view = again.json<{ state: string; attempts: number; result: unknown }>();
      return view.state === 'succeeded' ? view : undefined;
    }, 15_000, 50);
    expect(done).toMatchObject({ attempts: 1, result: { runs: 2 } });
    expect(runs).toBe(2);

    // Succeeded is not dead: 409 with a stable code and the state it found.
    const notDead = await call('POST', `/jobs/${job.id}/retry`, operator);
    expect(notDead.statusCode).toBe(409);
    expect(notDead.json<{ error: { code: string; details: { state: string } } }>().error).toMatchObject({ code: 'conflict', details: { state: 'succeeded' } });
    const unknown = await call('POST', '/jobs/9999999/retry', operator);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<{ error: { code: string } }>().error.code).toBe('not_found');
    const malformed = await call('POST', '/jobs/abc/retry', operator);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json<{ error: { code: string } }>().error.code).toBe('invalid_argument');

    // A dead job whose dedupe key a live job holds (the same work queued again): 409, and the
    // audit trail says the retry did not happen.
    const doomed = (await app.context.metadata.jobs.enqueue({ kind: 'doomed-test', dedupeKey: 'same-work', maxAttempts: 1 })).job;
    await until('the doomed job to be dead', async () => ((await app.context.metadata.jobs.get(doomed.id)).state === 'dead' ? true : undefined), 15_000, 50);
    const twin = (await app.context.metadata.jobs.enqueue({ kind: 'doomed-test', dedupeKey: 'same-work', delayMs: 3_600_000 })).job;
    const blocked = await call('POST', `/jobs/${doomed.id}/retry`, operator);
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json<{ error: { code: string; message: string } }>().error).toMatchObject({ code: 'conflict', message: expect.stringContaining('holds its dedupe key') as unknown });
    expect((await app.context.metadata.jobs.get(doomed.id)).state).toBe('dead');
    expect((await app.context.metadata.jobs.get(twin.id)).state).toBe('queued');

    // The audit trail has the retry (who, which job, how it had ended) and the refusal.
    const exported = await call('GET', '/audit/export', ADMIN);
    expect(exported.statusCode).toBe(200);
    const entries = exported.body
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { principal: string; action: string; outcome: string; details: Record<string, unknown> });
    const retries = entries.filter((e) => e.action === 'policy' && e.details['decision'] === 'job_retry');
    expect(retries).toEqual([
      expect.objectContaining({ principal: 'opal', outcome: 'allowed', details: expect.objectContaining({ job_id: job.id, kind: 'flaky-test', attempts_before: 1, last_error: 'Error: the first run fails' }) as unknown }),
      expect.objectContaining({ principal: 'opal', outcome: 'allowed', details: expect.objectContaining({ job_id: doomed.id, kind: 'doomed-test' }) as unknown }),
      expect.objectContaining({ principal: 'opal', outcome: 'error', details: expect.objectContaining({ job_id: doomed.id, reason: expect.stringContaining('dedupe key') as unknown }) as unknown }),
    ]);
    expect(entries.some((e) => e.action === 'denied' && e.principal === 'ana' && e.details['attempted'] === 'job_retry')).toBe(true);
  });

  it('GET /tiering/policies compares ours with always-hot, lifecycle 30/90, Intelligent-Tiering and the optimum', async () => {
    const answer = await call('GET', '/tiering/policies', operator);
    expect(answer.statusCode).toBe(200);
    const comparison = answer.json<{
      currency: string;
      days: number;
      files: number;
      truncated: boolean;
      model: { source: string };
      policies: Array<{ name: string; kind: string; total: number; monthly: number; over_optimum: number }>;
      cheapest: string | null;
    }>();
    expect(comparison).toMatchObject({ currency: 'USD', days: 90, truncated: false, model: { source: 'default' } });
    // The seed's files at their locations.
    const inventory = (await call('GET', '/inventory', ADMIN)).json<{ locations: Array<{ objects: number }> }>();
    expect(comparison.files).toBe(inventory.locations.reduce((s, l) => s + l.objects, 0));
    expect(comparison.policies.map((p) => p.name)).toEqual(['model+rules', 'rules', 'always-hot', 'lifecycle-30/90', 'intelligent-tiering', 'optimum']);
    const optimum = comparison.policies.find((p) => p.name === 'optimum')!;
    expect(optimum.total).toBeGreaterThan(0);
    for (const p of comparison.policies) {
      expect(p.total, p.name).toBeGreaterThanOrEqual(optimum.total * (1 - 1e-9));
      expect(p.monthly).toBeCloseTo((p.total / 90) * 30, 9);
      expect(p.over_optimum).toBeCloseTo(p.total / optimum.total - 1, 9);
    }
    expect(comparison.cheapest).not.toBe('optimum');

    const sampled = (await call('GET', '/tiering/policies?max_files=2', ADMIN)).json<{ files: number; truncated: boolean }>();
    expect(sampled).toMatchObject({ files: 2, truncated: true });
    for (const url of ['/tiering/policies?max_files=0', '/tiering/policies?max_files=2001']) {
      const refused = await call('GET', url, ADMIN);
      expect(refused.statusCode, url).toBe(400);
      expect(refused.json<{ error: { code: string } }>().error.code).toBe('invalid_argument');
    }
    expect((await call('GET', '/tiering/policies', analyst)).statusCode).toBe(403);
  });
});

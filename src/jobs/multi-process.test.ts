/**
 * Three `movingdata worker` processes share 500 jobs through PostgreSQL; one is SIGKILLed
 * mid-run and started again. Every job must end `succeeded` once, and its side effect must be
 * applied once, even though some jobs run twice (see test/fixtures/jobs/recording-handlers.ts
 * for the idempotent effect that makes "at least once" safe).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { labEnv } from '../../test/lab.ts';
import { ROOT, killWorkers, spawnWorker as spawnAnyWorker, until, type WorkerProcess } from '../../test/workers.ts';
import { openPostgresStore } from '../metadata/postgres/postgres-store.ts';

const HANDLERS = join(ROOT, 'test/fixtures/jobs/recording-handlers.ts');
const JOBS = 500;
const LEASE_MS = 1500;

function databaseUrl(): string {
  const url = process.env['DATABASE_URL'] ?? (labEnv() as Readonly<Record<string, string>> | undefined)?.['DATABASE_URL'];
  if (url === undefined) throw new Error('no PostgreSQL: set DATABASE_URL or run with the lab');
  return url;
}

function spawnWorker(id: string, env: Record<string, string>): WorkerProcess {
  return spawnAnyWorker(id, env, ['--handlers', HANDLERS, '--kinds', 'record', '--concurrency', '4', '--lease-ms', String(LEASE_MS), '--poll-ms', '50']);
}

describe('job workers in several processes on PostgreSQL', () => {
  it('drain 500 jobs with one of three workers SIGKILLed mid-run and restarted: each job succeeds once and its effect is applied once', async () => {
    const url = databaseUrl();
    const schema = `md_test_${randomBytes(6).toString('hex')}`;
    const dataDir = await mkdtemp(join(tmpdir(), 'md-workers-'));
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? dataDir,
      DATABASE_URL: url,
      DATABASE_SCHEMA: schema,
      DATABASE_POOL_SIZE: '4',
      MOVINGDATA_DATA_DIR: dataDir,
      MOVINGDATA_LOG_LEVEL: 'info',
      MOVINGDATA_SHUTDOWN_TIMEOUT_MS: '5000',
    };
    const store = await openPostgresStore({ url, schema, poolSize: 2 });
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await client.connect();
    const workers: WorkerProcess[] = [];
    const count = async (sql: string): Promise<number> => Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
    try {
      await client.query('create table job_runs (id bigint generated always as identity primary key, job_id bigint not null, worker text not null)');
      await client.query('create table job_effects (job_id bigint primary key, worker text not null)');
      const enqueued = await store.jobs.enqueueMany(
        Array.from({ length: JOBS }, (_, i) => ({ kind: 'record', dedupeKey: `record-${i}`, payload: { i, ms: 40 + (i % 5) * 10 }, maxAttempts: 5 })),
      );
      expect(enqueued.every((r) => r.created)).toBe(true);

      const victim = spawnWorker('victim', env);
      workers.push(spawnWorker('steady-a', env), spawnWorker('steady-b', env), victim);
      await Promise.all(workers.map((w) => w.ready));

      // Kill the victim while it holds jobs and the queue is well under way.
      await until(
        'the victim to hold jobs with 100 done',
        async () => {
          const { rows } = await client.query<{ done: string; held: string }>(
            `select count(*) filter (where state = 'succeeded') as done, count(*) filter (where state = 'running' and locked_by = 'victim') as held from jobs`,
          );
          return Number(rows[0]?.done) >= 100 && Number(rows[0]?.held) > 0 ? true : undefined;
        },
        30_000,
      );
      victim.child.kill('SIGKILL');
      expect((await victim.exit).signal).toBe('SIGKILL');
      // What it held when it died: nobody but a takeover can finish these now.
      const orphans = (await client.query<{ id: string }>(`select id from jobs where state = 'running' and locked_by = 'victim'`)).rows.map((r) => String(r.id));
      expect(orphans.length).toBeGreaterThan(0);

      const restarted = spawnWorker('victim-restarted', env);
      workers.push(restarted);
      await restarted.ready;
      const leftWhenRestarted = await count(`select count(*) as n from jobs where state <> 'succeeded'`);

      await until('every job to succeed', async () => ((await count(`select count(*) as n from jobs where state = 'succeeded'`)) === JOBS ? true : undefined), 45_000);

      // The survivors stop gracefully on SIGTERM.
      const live = workers.filter((w) => w !== victim);
      for (const w of live) w.child.kill('SIGTERM');
      const exits = await Promise.all(live.map((w) => w.exit));
      expect(exits, live.map((w) => w.output()).join('\n')).toEqual(live.map(() => ({ code: 0, signal: null })));

      // Jobs: each one succeeded, once: one row per dedupe key, finished, with a result.
      const jobs = (
        await client.query<{ id: string; state: string; attempts: number; locked_by: string; last_error: string | null; result: { effectApplied: boolean } | null }>(
          'select id, state, attempts, locked_by, last_error, result from jobs order by id',
        )
      ).rows.map((r) => ({ ...r, id: String(r.id) }));
      expect(jobs).toHaveLength(JOBS);
      expect(jobs.filter((j) => j.state !== 'succeeded' || j.result === null)).toEqual([]);
      expect(await count('select count(distinct dedupe_key) as n from jobs')).toBe(JOBS);

      // Effects: exactly one per job, whatever the number of runs.
      const effects = new Map((await client.query<{ job_id: string; worker: string }>('select job_id, worker from job_effects')).rows.map((r) => [String(r.job_id), r.worker]));
      expect(effects.size).toBe(JOBS);
      expect(jobs.every((j) => effects.has(j.id))).toBe(true);

      // Runs: at least one per job; the victim's orphans ran again elsewhere, with the lost
      // attempt counted and explained. (The victim may have died between claiming a job and
      // its handler's first statement, so the lost run is not always in job_runs.)
      const runs = new Map((await client.query<{ job_id: string; n: string }>('select job_id, count(*) as n from job_runs group by job_id')).rows.map((r) => [String(r.job_id), Number(r.n)]));
      expect(jobs.filter((j) => (runs.get(j.id) ?? 0) < 1)).toEqual([]);
      for (const id of orphans) {
        const job = jobs.find((j) => j.id === id);
        expect(runs.get(id), `runs of orphan ${id}`).toBeGreaterThanOrEqual(1);
        expect(job?.attempts).toBeGreaterThanOrEqual(2);
        expect(job?.locked_by).not.toBe('victim');
        expect(job?.last_error).toContain('lease of victim ran out');
      }
      // A final run that found the effect already applied had it applied by an earlier run of
      // another worker: the idempotent insert turned the repeat into a no-op.
      for (const job of jobs.filter((j) => j.result?.effectApplied === false)) {
        expect((runs.get(job.id) ?? 0) >= 2 && effects.get(job.id) !== job.locked_by, `job ${job.id}`).toBe(true);
      }
      // The restarted worker joined in whenever enough work was left for it to get a share.
      if (leftWhenRestarted >= 50) expect(jobs.filter((j) => j.locked_by === 'victim-restarted').length).toBeGreaterThan(0);
    } finally {
      await killWorkers(workers);
      await store.close();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

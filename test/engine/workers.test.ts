/**
 * Acceptance: durable, idempotent jobs shared by many workers.
 *
 * Three real `movingdata worker` processes (the default handlers: the engine's replicate, move,
 * verify, ...) share 500 `replicate` jobs through the lab's PostgreSQL, copying 500 small files
 * written at gcp (fake-gcs-server) to azure (Azurite). One worker is SIGKILLed while it holds
 * jobs, then started again. At the end every job has succeeded once, and every file has exactly
 * one verified replica at azure, stored once, with nothing else in the container: the drift
 * scan finds nothing, and every copy decrypts to the bytes written.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { generateIdentity } from '../../src/crypto/age/index.ts';
import { openEngine, type Engine } from '../../src/engine.ts';
import type { Replica } from '../../src/metadata/index.ts';
import { DRIFT_KINDS, emptyCounts, scanLocation } from '../../src/replication/drift.ts';
import { listAll } from '../../src/storage/list.ts';
import { labEnv } from '../lab.ts';
import { killWorkers, spawnWorker, until, type WorkerProcess } from '../workers.ts';
import { parseVersionObjectKey } from '../../src/replication/object-names.ts';
import { emptyContainer, storedKeyOf } from '../objects.ts';

const FILES = 500;
const SOURCE = 'gcp';
const TARGET = 'azure';
const CONTAINER = 'workers-test';
const LEASE_MS = 1500;
const WORKER_ARGS = ['--concurrency', '4', '--lease-ms', String(LEASE_MS), '--poll-ms', '50'];

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Run `task` over `items`, `width` at a time. */
async function eachLimited<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

async function bytesOf(body: Readable): Promise<Buffer> {
  return Buffer.concat((await body.toArray()) as Buffer[]);
}

describe('durable, idempotent jobs shared by many workers', () => {
  it(
    `three worker processes replicate ${FILES} files ${SOURCE} → ${TARGET}; one is SIGKILLed mid-run and restarted; each job succeeds once and each copy exists once, verified`,
    async () => {
      const lab = labEnv();
      const schema = `workers_${process.pid}_${randomBytes(3).toString('hex')}`;
      const dataDir = await mkdtemp(join(tmpdir(), 'md-engine-workers-'));
      const env: Record<string, string> = {
        ...lab,
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? dataDir,
        DATABASE_SCHEMA: schema,
        DATABASE_POOL_SIZE: '4',
        S3_BUCKET: CONTAINER,
        AZURE_CONTAINER: CONTAINER,
        GCS_BUCKET: CONTAINER,
        // Explicit keys, the same in every process (no demo mode).
        S3_ENCRYPTION_KEY: generateIdentity().encode(),
        AZURE_ENCRYPTION_KEY: generateIdentity().encode(),
        GCS_ENCRYPTION_KEY: generateIdentity().encode(),
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: 'info',
        MOVINGDATA_SHUTDOWN_TIMEOUT_MS: '5000',
        MOVINGDATA_RETRY_BASE_MS: '100',
        MOVINGDATA_RETRY_CAP_MS: '1000',
      };
      const client = new pg.Client({ connectionString: env['DATABASE_URL'], options: `-c search_path=${schema}` });
      await client.connect();
      const workers: WorkerProcess[] = [];
      let engine: Engine | undefined;
      const count = async (sql: string): Promise<number> => Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
      const phases: Record<string, number> = {};
      let phaseStart = Date.now();
      const phase = (name: string): void => {
        phases[name] = Date.now() - phaseStart;
        phaseStart = Date.now();
      };
      try {
        // The test's own engine: migrates the schema, writes the keyring files the workers read
        // too, seeds the files and checks the outcome.
        engine = await openEngine(loadConfig(env));
        const source = engine.stores.get(SOURCE)!;
        const target = engine.stores.get(TARGET)!;
        for (const store of [source, target]) {
          await store.ensureContainer();
          await emptyContainer(store.inner);
        }
        phase('prepare');

        // 500 files of 1-4 KiB, written at the source only.
        const contents = new Map<string, Buffer>();
        const fileIds = new Map<string, string>();
        for (let i = 0; i < FILES; i++) contents.set(`workers/${String(i).padStart(4, '0')}.bin`, randomBytes(1024 + randomInt(3 * 1024 + 1)));
        await eachLimited([...contents.keys()], 8, async (key) => {
          const written = await engine!.replicator.write('system', key, [SOURCE], Readable.from([contents.get(key)!]));
          expect(written.replicas.map((r) => [r.location, r.state])).toEqual([[SOURCE, 'verified']]);
          fileIds.set(key, written.file.id);
        });
        expect(fileIds.size).toBe(FILES);
        phase('seed');

        const victim = spawnWorker('victim', env, WORKER_ARGS);
        workers.push(spawnWorker('steady-a', env, WORKER_ARGS), spawnWorker('steady-b', env, WORKER_ARGS), victim);
        await Promise.all(workers.map((w) => w.ready));
        phase('workers start');

        const enqueued = await engine.metadata.jobs.enqueueMany(
          [...fileIds.values()].map((fileId) => ({
            kind: 'replicate',
            dedupeKey: `replicate:${fileId}:${TARGET}`,
            payload: { file_id: fileId, location: TARGET, principal: 'system' },
            maxAttempts: engine!.config.engine.maxAttempts,
          })),
        );
        expect(enqueued.filter((r) => !r.created)).toEqual([]);

        // Kill the victim while it holds jobs and a good part of the queue is done.
        const atKill = await until(
          'the victim to hold jobs with 100 replications done',
          async () => {
            const { rows } = await client.query<{ done: string; held: string }>(
              `select count(*) filter (where state = 'succeeded') as done, count(*) filter (where state = 'running' and locked_by = 'victim') as held from jobs`,
            );
            const done = Number(rows[0]?.done);
            return done >= 100 && Number(rows[0]?.held) > 0 ? done : undefined;
          },
          60_000,
          10,
        );
        victim.child.kill('SIGKILL');
        expect((await victim.exit).signal).toBe('SIGKILL');
        const succeededAtKill = await count(`select count(*) as n from jobs where state = 'succeeded'`);
        // What it held when it died: only a takeover after the lease can finish these.
        const orphans = (await client.query<{ id: string }>(`select id from jobs where state = 'running' and locked_by = 'victim'`)).rows.map((r) => String(r.id));
        phase('until kill');

        const restarted = spawnWorker('victim-restarted', env, WORKER_ARGS);
        workers.push(restarted);
        await restarted.ready;
        const leftWhenRestarted = await count(`select count(*) as n from jobs where state <> 'succeeded'`);

        await until(
          'every replicate job to finish',
          async () => ((await count(`select count(*) as n from jobs where state in ('succeeded', 'failed', 'dead')`)) === FILES ? true : undefined),
          90_000,
          50,
        );
        phase('drain');

        // The survivors stop gracefully on SIGTERM.
        const live = workers.filter((w) => w !== victim);
        for (const w of live) w.child.kill('SIGTERM');
        const exits = await Promise.all(live.map((w) => w.exit));
        expect(exits, live.map((w) => `--- ${w.id}\n${w.output()}`).join('\n')).toEqual(live.map(() => ({ code: 0, signal: null })));

        // The victim really was mid-run: jobs done and jobs left, and some of its own in hand.
        expect(atKill).toBeGreaterThanOrEqual(100);
        expect(succeededAtKill).toBeGreaterThanOrEqual(1);
        expect(succeededAtKill).toBeLessThan(FILES);
        expect(orphans.length).toBeGreaterThan(0);

        // Jobs: 500 replicate jobs, one per file, each succeeded (once: a job row reaches
        // `succeeded` once, and its dedupe key kept a second one from being created).
        const jobs = (
          await client.query<{ id: string; kind: string; state: string; attempts: number; locked_by: string; last_error: string | null; dedupe_key: string; result: { state?: string } | null }>(
            'select id, kind, state, attempts, locked_by, last_error, dedupe_key, result from jobs order by id',
          )
        ).rows.map((r) => ({ ...r, id: String(r.id) }));
        expect(jobs).toHaveLength(FILES);
        expect(jobs.filter((j) => j.kind !== 'replicate' || j.state !== 'succeeded' || j.result?.state !== 'verified')).toEqual([]);
        expect(new Set(jobs.map((j) => j.dedupe_key))).toEqual(new Set([...fileIds.values()].map((id) => `replicate:${id}:${TARGET}`)));
        // The victim's jobs were taken over after their lease, the lost attempt counted.
        for (const id of orphans) {
          const job = jobs.find((j) => j.id === id);
          expect(job?.attempts, `attempts of orphan ${id}`).toBeGreaterThanOrEqual(2);
          expect(job?.locked_by).not.toBe('victim');
          expect(job?.last_error).toContain('lease of victim ran out');
        }
        if (leftWhenRestarted >= 50) expect(jobs.filter((j) => j.locked_by === 'victim-restarted').length).toBeGreaterThan(0);

        // Metadata: exactly one replica per file at the target, verified, of its current version.
        const atTarget: Replica[] = [];
        let cursor: string | undefined;
        do {
          const page = await engine.metadata.listReplicasAtLocation(TARGET, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
          atTarget.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        expect(atTarget).toHaveLength(FILES);
        expect(new Set(atTarget.map((r) => r.fileId))).toEqual(new Set(fileIds.values()));
        expect(atTarget.filter((r) => r.state !== 'verified' || r.version !== 1 || fileIds.get(parseVersionObjectKey(r.objectKey)?.key ?? '') !== r.fileId)).toEqual([]);
        let inventoryCursor: string | undefined;
        let entries = 0;
        do {
          const page = await engine.metadata.listInventory({ prefix: 'workers/', limit: 1000, ...(inventoryCursor === undefined ? {} : { cursor: inventoryCursor }) });
          for (const entry of page.items) {
            entries += 1;
            expect(entry.current?.version, entry.file.key).toBe(1);
            expect(entry.current?.sha256, entry.file.key).toBe(sha256(contents.get(entry.file.key)!));
            // Replicas come by location: azure, then gcp.
            expect(entry.replicas.map((r) => [r.location, r.state]), entry.file.key).toEqual([
              [TARGET, 'verified'],
              [SOURCE, 'verified'],
            ]);
          }
          inventoryCursor = page.nextCursor;
        } while (inventoryCursor !== undefined);
        expect(entries).toBe(FILES);

        // Storage: exactly the 500 objects at the target, no orphan, no duplicate.
        const listed: string[] = [];
        for await (const object of listAll(target.inner, '')) listed.push(object.key);
        expect(listed.length).toBe(FILES);
        expect(listed.map((name) => parseVersionObjectKey(name)?.key).sort()).toEqual([...contents.keys()].sort());

        // Content: every copy at the target decrypts (with the target's key) to the bytes written.
        const wrong: string[] = [];
        await eachLimited([...contents.keys()], 16, async (key) => {
          const got = await bytesOf((await target.get(await storedKeyOf(engine!.metadata, key, TARGET))).body);
          if (!got.equals(contents.get(key)!)) wrong.push(key);
        });
        expect(wrong).toEqual([]);
        // Drift: nothing at either location (both scanned before asserting, to report both).
        const scans = [];
        for (const location of [TARGET, SOURCE]) {
          const scan = await scanLocation(engine.metadata, engine.stores.get(location)!.inner, location);
          scans.push({ location, objects: scan.objects, replicas: scan.replicas, counts: scan.counts, firstItems: scan.items.slice(0, 3) });
        }
        expect(scans).toEqual(
          [TARGET, SOURCE].map((location) => ({ location, objects: FILES, replicas: FILES, counts: emptyCounts(), firstItems: [] })),
        );
        expect(scans.every((scan) => DRIFT_KINDS.every((kind) => scan.counts[kind] === 0))).toBe(true);
        phase('checks');
        console.info(`workers.test phases (ms): ${JSON.stringify(phases)}; succeeded at kill ${succeededAtKill}, orphans ${orphans.length}, left at restart ${leftWhenRestarted}`);
      } finally {
        await killWorkers(workers);
        if (engine !== undefined) {
          await Promise.allSettled([SOURCE, TARGET].map(async (location) => {
            const store = engine?.stores.get(location);
            if (store !== undefined) await emptyContainer(store.inner);
          }));
          await engine.close();
        }
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    180_000,
  );
});

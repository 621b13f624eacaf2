/**
 * The statistics consumer in two `movingdata worker` processes on PostgreSQL (the embedded bus):
 * 10,000 access events in the outbox, one worker SIGKILLed mid-stream; the other takes its
 * partitions (and, once the dead one's leases run out, its outbox shards) and every event is
 * counted exactly once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { accessRecord, readCompletedEvent } from '../../src/events/access-events.ts';
import { openPostgresStore } from '../../src/metadata/postgres/postgres-store.ts';
import { labEnv } from '../lab.ts';
import { ROOT, killWorkers, spawnWorker, until, type WorkerProcess } from '../workers.ts';

const EVENTS = 10_000;
const HANDLERS = join(ROOT, 'test/fixtures/jobs/recording-handlers.ts');

describe('access statistics consumers in two processes', () => {
  it('count 10,000 events exactly once with one of the two SIGKILLed mid-stream', async () => {
    const url = labEnv()['DATABASE_URL']!;
    const schema = `md_consumers_${randomBytes(6).toString('hex')}`;
    const topic = `access-${randomBytes(4).toString('hex')}`;
    const dataDir = await mkdtemp(join(tmpdir(), 'md-consumers-'));
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? dataDir,
      DATABASE_URL: url,
      DATABASE_SCHEMA: schema,
      DATABASE_POOL_SIZE: '4',
      MOVINGDATA_DATA_DIR: dataDir,
      MOVINGDATA_LOG_LEVEL: 'info',
      MOVINGDATA_SHUTDOWN_TIMEOUT_MS: '5000',
      TOPIC_ACCESS: topic,
      KAFKA_PARTITIONS: '6',
    };
    const store = await openPostgresStore({ url, schema, poolSize: 2 });
    const workers: WorkerProcess[] = [];
    try {
      const args = ['--handlers', HANDLERS, '--kinds', 'record', '--concurrency', '1'];
      const victim = spawnWorker('victim', env, args);
      const steady = spawnWorker('steady', env, args);
      workers.push(victim, steady);
      await Promise.all([victim.ready, steady.ready]);
      // Events keep arriving while both work; then one dies without a word, with partitions and
      // outbox shards still to do.
      const produced = (async () => {
        for (let i = 0; i < EVENTS; i += 250) {
          await store.outbox.append(
            Array.from({ length: 250 }, (_, j) =>
              accessRecord(topic, readCompletedEvent({ principal: 'test', location: 'aws', key: `k/${(i + j) % 97}`, version: 1, bytes: 10, latencyMs: 1, outcome: 'ok' })),
            ),
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      await until('a third of the events counted', async () => ((await store.accessStats.totals()).reads >= EVENTS / 3 ? true : undefined), 60_000, 20);
      victim.child.kill('SIGKILL');
      await victim.exit;
      const killedAt = (await store.accessStats.totals()).reads;
      expect(killedAt).toBeLessThan(EVENTS);
      await produced;
      const totals = await until(
        'every event counted',
        async () => {
          const t = await store.accessStats.totals();
          return t.reads >= EVENTS ? t : undefined;
        },
        120_000,
        200,
      );
      expect(totals.reads).toBe(EVENTS);
      expect(totals.bytesRead).toBe(EVENTS * 10);
      // And no more later: redelivered records are recognised by their event ids.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect((await store.accessStats.totals()).reads).toBe(EVENTS);
      expect((await store.outbox.stats()).depth).toBe(0);
      expect(steady.alive()).toBe(true);
    } finally {
      await killWorkers(workers);
      await store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`).finally(() => client.end());
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});

/**
 * Runs the event bus conformance suite on the lab's Kafka broker, plus what only a real broker
 * shows: a member process killed mid-stream (its partitions go to the survivor, nothing is lost,
 * the duplicates stay within the uncommitted tail) and publish against an unreachable broker
 * (rejects with `unavailable` within its bound).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { labEnv } from '../../../test/lab.ts';
import { until } from '../../../test/until.ts';
import { labStatus } from '../../lab/index.ts';
import { runEventBusConformance } from '../conformance/suite.ts';
import { type DeliveredRecord, type OutgoingRecord } from '../port.ts';
import { KafkaBus, type KafkaBusOptions } from './kafka-bus.ts';

/** Group timings short enough for tests (the broker's minimum session timeout is 6 s). */
const FAST: Omit<KafkaBusOptions, 'bootstrap' | 'clientId'> = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000, maxWaitMs: 200 };

function bootstrap(): string[] {
  const value = labEnv({ kafka: true })['KAFKA_BOOTSTRAP'];
  if (!value) throw new Error('KAFKA_BOOTSTRAP missing from the lab settings');
  return value.split(',').map((b) => b.replace(/^localhost:/, '127.0.0.1:'));
}

const uniqueTopic = (): string => `md-conf-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

runEventBusConformance({
  name: 'kafka',
  open: async () => new KafkaBus({ bootstrap: bootstrap(), clientId: `conf-${randomBytes(2).toString('hex')}`, ...FAST }),
  uniqueTopic,
});

const MEMBER = fileURLToPath(new URL('./member-process.ts', import.meta.url));

function keyedRecords(topic: string, count: number, tag: string): OutgoingRecord[] {
  return Array.from({ length: count }, (_, i) => ({ topic, key: `${tag}-${i % 97}`, value: JSON.stringify({ i, tag }) }));
}

describe('kafka bus', () => {
  it('a member killed mid-stream: the survivor takes its partitions, nothing is lost, duplicates stay within the uncommitted tail', async () => {
    const topic = uniqueTopic();
    const group = `crash-${randomBytes(3).toString('hex')}`;
    const maxBatch = 10;
    const bus = new KafkaBus({ bootstrap: bootstrap(), clientId: 'survivor', ...FAST });
    const child = spawn(process.execPath, [MEMBER], {
      env: { ...process.env, KAFKA_BOOTSTRAP: bootstrap().join(','), TOPIC: topic, GROUP: group, MAX_BATCH: String(maxBatch), BATCH_DELAY_MS: '40' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit');
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const lines = (): Array<{ p?: number; o?: number; assigned?: number[] }> =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { p?: number; o?: number; assigned?: number[] });
    const childRecords = (): string[] => lines().flatMap((l) => (l.p === undefined ? [] : [`${l.p}@${l.o}`]));
    const childAssigned = (): number[] => lines().filter((l) => l.assigned !== undefined).at(-1)?.assigned ?? [];
    try {
      await bus.ensureTopics([{ name: topic, partitions: 4 }]);
      const mine: DeliveredRecord[] = [];
      const busErrors: string[] = [];
      const subscription = await bus.subscribe({
        group,
        topics: [topic],
        maxBatch,
        onError: (err) => busErrors.push(String(err)),
        handler: async (batch) => {
          mine.push(...batch);
          await sleep(5);
        },
      });
      await until('both members holding partitions', async () => (childAssigned().length > 0 && subscription.assignments().length > 0 && childAssigned().length + subscription.assignments().length === 4 ? true : undefined), 30_000, 50).catch((err: unknown) => {
        throw new Error(`${String(err)}\nchild output:\n${output}${errors}`);
      });
      const victimPartitions = childAssigned().length;
      const records = keyedRecords(topic, 1_200, 'crash');
      await bus.publish(records);
      await until('the child mid-stream', async () => (childRecords().length >= 60 ? true : undefined), 30_000, 20);
      child.kill('SIGKILL');
      await exited;
      const byChild = new Set(childRecords());
      expect(byChild.size).toBeLessThan(records.length / 2);
      // The survivor gets the victim's partitions once its session times out, and finishes them.
      const union = (): Set<string> => new Set([...byChild, ...mine.map((r) => `${r.partition}@${r.offset}`)]);
      await until('every record handled by one member or the other', async () => (union().size >= records.length ? true : undefined), 45_000, 100).catch(async (err: unknown) => {
        const perPartition = [0, 1, 2, 3].map((p) => [...union()].filter((id) => id.startsWith(`${p}@`)).length);
        throw new Error(`${String(err)}: union ${union().size}/${records.length} per partition ${perPartition.join()}; survivor holds ${JSON.stringify(subscription.assignments())}; child held ${JSON.stringify(childAssigned())}; lag ${JSON.stringify((await bus.lag(group, [topic])).map((l) => [l.partition, String(l.committed), String(l.end)]))}; errors ${busErrors.join(' | ')}; child per partition ${[0, 1, 2, 3].map((p) => [...byChild].filter((id) => id.startsWith(`${p}@`)).length).join()} child stderr ${errors}`);
      });
      expect(subscription.assignments()).toHaveLength(4);
      const bySurvivor = mine.map((r) => `${r.partition}@${r.offset}`);
      const twice = bySurvivor.filter((id) => byChild.has(id)).length;
      const survivorRepeats = bySurvivor.length - new Set(bySurvivor).size;
      console.log(`crash test: child handled ${byChild.size} records on ${victimPartitions} partitions before SIGKILL; survivor handled ${bySurvivor.length}; handled by both ${twice} (bound ${victimPartitions * maxBatch}); survivor repeats ${survivorRepeats}`);
      // The victim commits each batch before it takes the next of that partition: at most one batch per partition was uncommitted.
      expect(twice).toBeLessThanOrEqual(victimPartitions * maxBatch);
      expect(survivorRepeats).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await bus.close();
    }
  });


  it('publish to an unreachable broker rejects with unavailable within its bound', async () => {
    const bus = new KafkaBus({ bootstrap: ['127.0.0.1:1'], clientId: 'unreachable', publishTimeoutMs: 2_000, healthTimeoutMs: 1_000 });
    try {
      const started = Date.now();
      const err = await bus.publish([{ topic: 'nowhere', key: 'k', value: 'v' }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      expect(err).toMatchObject({ name: 'MovingDataError', code: 'unavailable' });
      expect(took).toBeLessThan(2_000 + 500);
      const health = await bus.health();
      expect(health.reachable).toBe(false);
      expect(health.detail).toBeTruthy();
      expect(Date.now() - started - took).toBeLessThan(1_500);
    } finally {
      await bus.close();
    }
  });

  it('a broker that stops answering: publish rejects with unavailable within its bound, and the bus recovers when it answers again', async () => {
    const kafka = (await labStatus()).find((server) => server.name === 'kafka');
    if (kafka?.pid === undefined) throw new Error('the lab Kafka broker is not running');
    const pid = kafka.pid;
    const topic = uniqueTopic();
    const group = `pause-${randomBytes(3).toString('hex')}`;
    const bus = new KafkaBus({ bootstrap: bootstrap(), clientId: 'pause', ...FAST, publishTimeoutMs: 2_000, healthTimeoutMs: 1_000 });
    let paused = false;
    try {
      await bus.ensureTopics([{ name: topic, partitions: 2 }]);
      const seen: DeliveredRecord[] = [];
      const subscription = await bus.subscribe({ group, topics: [topic], handler: async (batch) => void seen.push(...batch) });
      await until('the member holding both partitions', async () => (subscription.assignments().length === 2 ? true : undefined), 30_000, 50);
      await bus.publish(keyedRecords(topic, 10, 'before'));
      await until('the first records', async () => (seen.length >= 10 ? true : undefined), 30_000, 50);

      // SIGSTOP: the broker keeps its sockets open and answers nothing (worse than a closed port).
      process.kill(pid, 'SIGSTOP');
      paused = true;
      const started = Date.now();
      const err = await bus.publish(keyedRecords(topic, 5, 'during')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'MovingDataError', code: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(2_000 + 500);
      const health = await bus.health();
      expect(health.reachable).toBe(false);
      expect(Date.now() - started).toBeLessThan(2_000 + 1_000 + 1_000);

      process.kill(pid, 'SIGCONT');
      paused = false;
      // The next publishes succeed once the broker answers again, without a new bus.
      const resumed = Date.now();
      await until('a publish accepted again', () => bus.publish(keyedRecords(topic, 10, 'after')).then(() => true, () => undefined), 30_000, 200);
      console.log(`pause test: publish accepted again ${Date.now() - resumed} ms after SIGCONT`);
      expect(await bus.health()).toEqual({ reachable: true });
      // The subscription that lived through the pause delivers them.
      await until('the records published after the pause', async () => (seen.filter((r) => r.value.includes('"after"')).length >= 10 ? true : undefined), 30_000, 50);
    } finally {
      if (paused) process.kill(pid, 'SIGCONT');
      await bus.close();
    }
  });

  it('a broker silent for longer than the session timeout: the member rejoins and consumption resumes', async () => {
    const kafka = (await labStatus()).find((server) => server.name === 'kafka');
    if (kafka?.pid === undefined) throw new Error('the lab Kafka broker is not running');
    const pid = kafka.pid;
    const topic = uniqueTopic();
    const group = `outage-${randomBytes(3).toString('hex')}`;
    const bus = new KafkaBus({ bootstrap: bootstrap(), clientId: 'outage', ...FAST, publishTimeoutMs: 2_000, requestTimeoutMs: 4_000 });
    const errors: string[] = [];
    let paused = false;
    try {
      await bus.ensureTopics([{ name: topic, partitions: 2 }]);
      const seen: DeliveredRecord[] = [];
      const subscription = await bus.subscribe({ group, topics: [topic], onError: (err) => errors.push(String(err)), handler: async (batch) => void seen.push(...batch) });
      await until('the member holding both partitions', async () => (subscription.assignments().length === 2 ? true : undefined), 30_000, 50);
      await bus.publish(keyedRecords(topic, 10, 'before'));
      await until('the first records', async () => (seen.length >= 10 ? true : undefined), 30_000, 50);
      process.kill(pid, 'SIGSTOP');
      paused = true;
      await sleep(8_000); // the outage itself: longer than the 6 s session timeout
      process.kill(pid, 'SIGCONT');
      paused = false;
      await until('a publish accepted again', () => bus.publish(keyedRecords(topic, 10, 'after')).then(() => true, () => undefined), 30_000, 200);
      const resumed = Date.now();
      await until('the records published after the outage', async () => (seen.filter((r) => r.value.includes('"after"')).length >= 10 ? true : undefined), 40_000, 50).catch((err: unknown) => {
        throw new Error(`${String(err)}; assignments ${JSON.stringify(subscription.assignments())}; errors ${errors.join(' | ')}`);
      });
      console.log(`outage test: delivery resumed ${Date.now() - resumed} ms after the first accepted publish; errors reported: ${errors.length}`);
      expect(subscription.assignments()).toHaveLength(2);
    } finally {
      if (paused) process.kill(pid, 'SIGCONT');
      await bus.close();
    }
  });
});

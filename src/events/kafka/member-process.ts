/**
 * A consumer group member in a process of its own, for kafka.test.ts's crash test (the test
 * SIGKILLs it mid-stream). Settings come from the environment: KAFKA_BOOTSTRAP, TOPIC, GROUP,
 * MAX_BATCH, BATCH_DELAY_MS. It prints one JSON line per handled record, {"p":partition,"o":offset},
 * before its handler resolves (so every record it committed was printed; pipe writes are
 * synchronous on Linux), and {"assigned":[partitions]} whenever its assignment changes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaBus } from './kafka-bus.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const bus = new KafkaBus({
  bootstrap: env('KAFKA_BOOTSTRAP').split(','),
  clientId: `member-${process.pid}`,
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 10_000,
  maxWaitMs: 200,
});
const delay = Number(env('BATCH_DELAY_MS'));
const subscription = await bus.subscribe({
  group: env('GROUP'),
  topics: [env('TOPIC')],
  maxBatch: Number(env('MAX_BATCH')),
  onError: (err) => console.error(String(err)),
  handler: async (batch) => {
    process.stdout.write(batch.map((r) => `${JSON.stringify({ p: r.partition, o: Number(r.offset) })}\n`).join(''));
    await sleep(delay);
  },
});
let last = '';
setInterval(() => {
  const assigned = JSON.stringify({ assigned: subscription.assignments().map((a) => a.partition).sort() });
  if (assigned !== last) process.stdout.write(`${assigned}\n`);
  last = assigned;
}, 50);

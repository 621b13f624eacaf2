/** Runs the event bus conformance suite on the in-memory bus (no server needed). */
import { randomBytes } from 'node:crypto';
import { runEventBusConformance } from '../conformance/suite.ts';
import { MemoryBroker, MemoryBus } from './memory-bus.ts';

const broker = new MemoryBroker();

runEventBusConformance({
  name: 'memory',
  open: async () => new MemoryBus(broker),
  uniqueTopic: () => `t-${randomBytes(4).toString('hex')}`,
  settleMs: 5_000,
});

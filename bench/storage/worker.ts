/**
 * One measured transfer in a fresh process: put every file of a directory into a store, or get
 * them back into a directory (`open` only opens the store). Prints one JSON line: bytes
 * moved, seconds spent (from opening the store to the last byte, and how much of that opening
 * the store took), this process's peak RSS, and where the memory went (sampled every 20 ms).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openStore, type StoreConfig } from '../../src/storage/factory.ts';

interface Job {
  readonly store: StoreConfig;
  readonly op: 'put' | 'get' | 'open';
  readonly dir: string;
  readonly prefix: string;
  readonly names: readonly string[];
  readonly concurrency: number;
  /** Local disk only: without fsync, to measure what durability costs. */
  readonly unsynced?: boolean;
}

const MiB = 1024 * 1024;
const job = JSON.parse(process.argv[2] ?? '{}') as Job;

/** Peak of each part of this process's memory, in MiB. */
const peak = { heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
const sample = (): void => {
  const usage = process.memoryUsage();
  for (const part of ['heapUsed', 'heapTotal', 'external', 'arrayBuffers'] as const) peak[part] = Math.max(peak[part], usage[part] / MiB);
};
const sampler = setInterval(sample, 20);
sampler.unref();

const started = performance.now();
const store =
  job.unsynced === true && job.store.provider === 'local'
    ? new (await import('../../src/storage/local/local-store.ts')).LocalStore({ location: job.store.location, root: job.store.root, container: job.store.container, durable: false })
    : await openStore(job.store);
await store.ensureContainer();
const opened = performance.now();
/** RSS with the store open, before any byte moved: Node, the SDK and its client. */
const openRssMiB = process.memoryUsage.rss() / MiB;

let bytes = 0;
const queue = [...job.names];
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const key = `${job.prefix}${name}`;
      if (job.op === 'put') {
        const path = join(job.dir, name);
        const { size } = await stat(path);
        await store.put(key, createReadStream(path, { highWaterMark: MiB }), { size });
        bytes += size;
      } else if (job.op === 'get') {
        const got = await store.get(key);
        await pipeline(got.body, createWriteStream(join(job.dir, name)));
        bytes += got.info.size;
      }
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
sample();
clearInterval(sampler);
await store.close();
console.log(
  JSON.stringify({
    bytes,
    seconds,
    openSeconds: (opened - started) / 1000,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    openRssMiB,
    peak,
  }),
);

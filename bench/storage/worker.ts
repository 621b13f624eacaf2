/**
 * One measured transfer in a fresh process: put every file of a directory into a store, or get
 * them back into a directory. Prints one JSON line: bytes moved, seconds spent (from opening
 * the store to the last byte), and this process's peak RSS.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openStore, type StoreConfig } from '../../src/storage/factory.ts';

interface Job {
  readonly store: StoreConfig;
  readonly op: 'put' | 'get';
  readonly dir: string;
  readonly prefix: string;
  readonly names: readonly string[];
  readonly concurrency: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const started = performance.now();
const store = await openStore(job.store);
await store.ensureContainer();
let bytes = 0;
const queue = [...job.names];
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const path = join(job.dir, name);
      if (job.op === 'put') {
        const { size } = await stat(path);
        await store.put(`${job.prefix}${name}`, createReadStream(path, { highWaterMark: 1024 * 1024 }), { size });
        bytes += size;
      } else {
        const got = await store.get(`${job.prefix}${name}`);
        await pipeline(got.body, createWriteStream(path));
        bytes += got.info.size;
      }
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
await store.close();
console.log(JSON.stringify({ bytes, seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));


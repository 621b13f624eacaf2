/**
 * One measured fan-out in a fresh process (so its peak RSS is its own): every file of a
 * directory to every target location, `concurrency` files at a time.
 *
 * - `ours`:    fanOutWrite through EncryptedStores (age, one payload, a header per location),
 *              every branch verified (size and provider checksum) as the product does.
 * - `ceiling`: the same files put in the clear through the same adapters (ObjectStore.put),
 *              to every target at once, no encryption, no verification.
 * - `open`:    opens the stores only (warms the compile cache, creates the containers).
 *
 * Prints one JSON line: bytes, seconds (from opening the stores to the last verified byte),
 * how much of it opening took, CPU seconds, peak RSS and the memory peaks (sampled every 20 ms).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EncryptedStore } from '../../src/crypto/encrypted-store.ts';
import { LocalKeyring, type KeySource } from '../../src/crypto/keys/local-keyring.ts';
import { fanOutWrite } from '../../src/replication/fan-out.ts';
import { openStore, type StoreConfig } from '../../src/storage/factory.ts';
import type { ObjectStore } from '../../src/storage/port.ts';

export interface FanoutJob {
  readonly mode: 'ours' | 'ceiling' | 'open';
  /** Target locations by name (e.g. azure, gcp). */
  readonly targets: ReadonlyArray<{ readonly location: string; readonly store: StoreConfig }>;
  /** The demo keyring's directory and key settings (ours only). */
  readonly keysDir: string;
  readonly keySources: readonly KeySource[];
  readonly dir: string;
  readonly names: readonly string[];
  readonly prefix: string;
  readonly concurrency: number;
}

export interface FanoutWorkerResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly openSeconds: number;
  readonly cpuSeconds: number;
  readonly maxRssMiB: number;
  readonly peak: { readonly heapUsed: number; readonly external: number; readonly arrayBuffers: number };
}

const MiB = 1024 * 1024;
const job = JSON.parse(process.argv[2] ?? '{}') as FanoutJob;

const peak = { heapUsed: 0, external: 0, arrayBuffers: 0 };
const sample = (): void => {
  const usage = process.memoryUsage();
  for (const part of ['heapUsed', 'external', 'arrayBuffers'] as const) peak[part] = Math.max(peak[part], usage[part] / MiB);
};
const sampler = setInterval(sample, 20);
sampler.unref();

const cpuBefore = process.cpuUsage();
const started = performance.now();
const raw: ObjectStore[] = [];
for (const target of job.targets) raw.push(await openStore(target.store));
await Promise.all(raw.map((store) => store.ensureContainer()));
const keyring = job.mode === 'ours' ? await LocalKeyring.open({ dir: job.keysDir, demo: true, sources: job.keySources }) : undefined;
const encrypted = keyring === undefined ? [] : raw.map((inner, i) => ({ location: job.targets[i]!.location, store: new EncryptedStore({ inner, keys: () => keyring.keysFor(job.targets[i]!.location) }) }));
const opened = performance.now();

let bytes = 0;
const queue = job.mode === 'open' ? [] : [...job.names];
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const path = join(job.dir, name);
      const key = `${job.prefix}${name}`;
      const { size } = await stat(path);
      if (job.mode === 'ours') {
        const result = await fanOutWrite(createReadStream(path, { highWaterMark: MiB }), { key, targets: encrypted, size });
        if (result.sourceError !== undefined) throw result.sourceError instanceof Error ? result.sourceError : new Error('the source failed', { cause: result.sourceError });
        for (const branch of result.branches) if (!branch.ok) throw new Error(`${branch.location}:${key}: ${String(branch.error)}`, { cause: branch.error });
        if (result.size !== size) throw new Error(`${key}: fanned out ${result.size} bytes, the file has ${size}`);
      } else {
        const puts = await Promise.all(raw.map((store) => store.put(key, createReadStream(path, { highWaterMark: MiB }), { size })));
        for (const put of puts) if (put.size !== size) throw new Error(`${key}: put ${put.size} bytes, the file has ${size}`);
      }
      bytes += size;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
sample();
clearInterval(sampler);
await Promise.all(raw.map((store) => store.close()));
const result: FanoutWorkerResult = {
  bytes,
  seconds,
  openSeconds: (opened - started) / 1000,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
  peak,
};
console.log(JSON.stringify(result));

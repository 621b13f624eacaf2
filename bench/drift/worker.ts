/**
 * One measured drift scan in a fresh process (so its peak RSS is its own): `scanLocation` for
 * every location at once, as the product runs them, against the metadata in PostgreSQL.
 * Prints one JSON line: seconds (from opening the metadata and the stores to the last report),
 * how much of it opening took, each location's figures, CPU seconds, peak RSS and JS heap.
 * `listConcurrency` is scanLocation's own option (1: one flat listing at a time); `open` only
 * opens everything (fills the compile cache).
 */
import type { MetadataConfig } from '../../src/metadata/index.ts';
import { openMetadataStore } from '../../src/metadata/index.ts';
import { scanLocation, type DriftKind } from '../../src/replication/drift.ts';
import { openStore, type StoreConfig } from '../../src/storage/factory.ts';

export interface DriftJob {
  readonly mode: 'scan' | 'open';
  readonly metadata: MetadataConfig;
  readonly locations: ReadonlyArray<{ readonly location: string; readonly store: StoreConfig }>;
  readonly listConcurrency?: number;
}

export interface DriftWorkerResult {
  readonly seconds: number;
  readonly openSeconds: number;
  readonly cpuSeconds: number;
  readonly maxRssMiB: number;
  readonly peakHeapUsedMiB: number;
  readonly locations: ReadonlyArray<{ readonly location: string; readonly seconds: number; readonly objects: number; readonly replicas: number; readonly counts: Readonly<Record<DriftKind, number>> }>;
}

const MiB = 1024 * 1024;
const job = JSON.parse(process.argv[2] ?? '{}') as DriftJob;
let peakHeapUsedMiB = 0;
const sampler = setInterval(() => (peakHeapUsedMiB = Math.max(peakHeapUsedMiB, process.memoryUsage().heapUsed / MiB)), 20);
sampler.unref();

const cpuBefore = process.cpuUsage();
const started = performance.now();
const metadata = await openMetadataStore(job.metadata);
const stores = await Promise.all(job.locations.map((l) => openStore(l.store)));
const opened = performance.now();
const locations =
  job.mode === 'open'
    ? []
    : await Promise.all(
        job.locations.map(async (l, i) => {
          const scan = await scanLocation(metadata, stores[i]!, l.location, job.listConcurrency === undefined ? {} : { listConcurrency: job.listConcurrency });
          return { location: l.location, seconds: (performance.now() - opened) / 1000, objects: scan.objects, replicas: scan.replicas, counts: scan.counts };
        }),
      );
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
clearInterval(sampler);
await Promise.all(stores.map((s) => s.close()));
await metadata.close();
const result: DriftWorkerResult = {
  seconds,
  openSeconds: (opened - started) / 1000,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
  peakHeapUsedMiB,
  locations,
};
console.log(JSON.stringify(result));

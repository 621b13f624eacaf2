/**
 * One measured drift scan in a fresh process (so its peak RSS is its own): `scanLocation` for
 * every location at once, as the product runs them, against the metadata in PostgreSQL.
 * Prints one JSON line: seconds (from opening the metadata and the stores to the last report),
 * how much of it opening took, each location's figures, CPU seconds, peak RSS and JS heap.
 *
 * `directories` (the prototype row only): each store's full listing is served by listing those
 * key prefixes, `directoryConcurrency` at a time, instead of one flat listing page after page.
 * `scanLocation` itself is unchanged; only where its listing comes from differs. `open` only
 * opens everything (fills the compile cache).
 */
import type { MetadataConfig } from '../../src/metadata/index.ts';
import { openMetadataStore } from '../../src/metadata/index.ts';
import { scanLocation, type DriftKind } from '../../src/replication/drift.ts';
import { openStore, type StoreConfig } from '../../src/storage/factory.ts';
import { listAll } from '../../src/storage/list.ts';
import type { ListedObject, ListOptions, ListPage, ObjectStore } from '../../src/storage/port.ts';

export interface DriftJob {
  readonly mode: 'scan' | 'open';
  readonly metadata: MetadataConfig;
  readonly locations: ReadonlyArray<{ readonly location: string; readonly store: StoreConfig }>;
  readonly directories?: readonly string[];
  readonly directoryConcurrency?: number;
}

export interface DriftWorkerResult {
  readonly seconds: number;
  readonly openSeconds: number;
  readonly cpuSeconds: number;
  readonly maxRssMiB: number;
  readonly peakHeapUsedMiB: number;
  readonly locations: ReadonlyArray<{ readonly location: string; readonly seconds: number; readonly objects: number; readonly replicas: number; readonly counts: Readonly<Record<DriftKind, number>> }>;
}

/**
 * The store, except that a full listing (prefix '') is every directory's listing, several at
 * once, returned as one page. Bench-side prototype of a sharded listing: it knows the layout.
 */
function listedByDirectory(store: ObjectStore, directories: readonly string[], concurrency: number): ObjectStore {
  const listPage = async (prefix: string, options: ListOptions = {}): Promise<ListPage> => {
    if (prefix !== '') return store.listPage(prefix, options);
    if (options.cursor !== undefined) return { items: [] };
    const items: ListedObject[] = [];
    const queue = [...directories];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let dir = queue.shift(); dir !== undefined; dir = queue.shift()) {
          for await (const item of listAll(store, dir, options.signal ? { signal: options.signal } : {})) items.push(item);
        }
      }),
    );
    return { items };
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'listPage') return listPage;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const MiB = 1024 * 1024;
const job = JSON.parse(process.argv[2] ?? '{}') as DriftJob;
let peakHeapUsedMiB = 0;
const sampler = setInterval(() => (peakHeapUsedMiB = Math.max(peakHeapUsedMiB, process.memoryUsage().heapUsed / MiB)), 20);
sampler.unref();

const cpuBefore = process.cpuUsage();
const started = performance.now();
const metadata = await openMetadataStore(job.metadata);
const raw = await Promise.all(job.locations.map((l) => openStore(l.store)));
const stores = job.directories === undefined ? raw : raw.map((s) => listedByDirectory(s, job.directories!, job.directoryConcurrency ?? 8));
const opened = performance.now();
const locations =
  job.mode === 'open'
    ? []
    : await Promise.all(
        job.locations.map(async (l, i) => {
          const scan = await scanLocation(metadata, stores[i]!, l.location);
          return { location: l.location, seconds: (performance.now() - opened) / 1000, objects: scan.objects, replicas: scan.replicas, counts: scan.counts };
        }),
      );
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
clearInterval(sampler);
await Promise.all(raw.map((s) => s.close()));
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

/**
 * Drift scan at scale: N objects (100k; 5k in --quick) at each of aws (MinIO), azure (Azurite)
 * and gcp (fake-gcs-server), recorded in the metadata (PostgreSQL) as one file each with one
 * verified replica per location whose stored size and checksums are what the stores hold.
 *
 * - ours:   src/replication/drift.ts `scanLocation` for the three locations at once, as the
 *           product runs them: each lists its location (listSharded: the top-level prefixes by a
 *           delimited listing, then each of them flat, 8 listings at once) and merges the listing
 *           with the metadata's replicas at that location (10 000 per page). Everything is
 *           expected in place (every count must come out 0).
 * - rclone: `rclone check aws:bucket azure:container` and `rclone check aws:bucket gcs:bucket`
 *           (two pairwise checks cover every object of the three; `rclone check` only ever
 *           compares two listings), both started at once and, separately, one after the other;
 *           the faster of the two is the reference. Default flags: size + MD5, and the MD5 of
 *           every object comes in the listings on all three (MinIO's ETag of a single-part
 *           unencrypted upload, Azure's Content-MD5, GCS's md5Hash), so neither side makes a
 *           request per object; --checkers 8 (the default) lists up to 8 directories at once.
 *           Ours compares more (3 listings, each against the metadata: size and every checksum
 *           or ETag both sides have) and reads the metadata on top.
 * - ours, flat (MOVINGDATA_BENCH_DRIFT_FLAT=1): a second row, scanLocation with one listing at a
 *           time (listConcurrency 1: one flat listing, page after page), to show what sharding
 *           the listing buys.
 * Objects/s = 3 × N (the objects at the three locations) / seconds, for both. Before measuring,
 * one page of the flat listing and one of a directory are timed at each location: on the lab,
 * a flat page costs time that grows with the container on Azurite and fake-gcs-server (they
 * filter, sort or read every object for every page), which a missed target's note quotes.
 *
 * Where the data lives: dedicated instances of the lab's three object servers (the lab's own
 * binaries and credentials, started for this suite and stopped after it), whose data stays in
 * <lab home>/bench/drift-<N>/, and the schema bench_drift_<N> of the lab's PostgreSQL. Not the
 * shared servers: 300k more objects there would tax every later test run on the lab (Azurite
 * keeps its whole blob table in one LokiJS database that it re-serialises every 5 s after a
 * write). PostgreSQL, not PGlite: a deployment that scans 100k objects at three clouds is the
 * multi-process PostgreSQL one.
 *
 * Population happens once and is cached: objects of 64..256 random bytes (the same bytes under
 * the same key at the three, `dNN/oNNNNNN` in 100 "directories"), put through the raw adapters,
 * 64 at a time per server; the metadata written from what each put returned (size, checksums,
 * ETag), in transactions of 500 files, through the store's API (createFile, addVersion committed,
 * upsertReplica verified × 3). A marker file in the metadata, written last, says it is complete;
 * every run also checks the last object at each store and that the scan found 0 drift. Without
 * the marker (or with MOVINGDATA_BENCH_DRIFT_REPOPULATE=1) the schema is dropped and everything
 * is written again. Measurements: MOVINGDATA_BENCH_RUNS (default 3, 1 in --quick), the sides
 * taking turns going first; medians. MOVINGDATA_BENCH_DRIFT_OBJECTS sets N (its own servers' data
 * directory and schema). MOVINGDATA_BENCH_CPU_PROF=1 writes V8 CPU profiles of our scans to
 * bench/results/profiles/ (as the fanout suite does), to see where our side's CPU goes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.ts';
import { labHome, labStatus, startPrivateServer, type PrivateServer } from '../../src/lab/index.ts';
import { openMetadataStore, type MetadataConfig, type MetadataStore, type ProviderChecksums } from '../../src/metadata/index.ts';
import { openStore, type StoreConfig } from '../../src/storage/factory.ts';
import type { ObjectStore, PutResult } from '../../src/storage/port.ts';
import { processCpu } from '../lib/cpu.ts';
import { NODE_FLAGS, runMeasured } from '../lib/process.ts';
import { rcloneElapsed, rcloneEnv, rcloneRemotes, type Remote } from '../lib/rclone.ts';
import { median, positiveInteger } from '../lib/stats.ts';
import type { DriftJob, DriftWorkerResult } from './worker.ts';

const WORKER = join(import.meta.dirname, 'worker.ts');
const PROFILE_DIR = join(import.meta.dirname, '..', 'results', 'profiles');
const DIRECTORIES = 100;
const PUT_CONCURRENCY = 64;
const METADATA_BATCH = 500;
const CHUNK = 4000;
const MARKER_KEY = '.bench-drift-populated';
/** The two ways the reference side runs (its two checks), named as the log and the samples name them. */
const RCLONE_AT_ONCE = 'rclone check × 2 at once';
const RCLONE_ONE_BY_ONE = 'rclone check × 2 one after the other';
/** rclone's default --checkers: directories it lists at once. */
const RCLONE_CHECKERS = 8;

export interface DriftRow {
  /** Which scan: the product's, or the same with one flat listing at a time. */
  readonly variant: string;
  readonly objects: number;
  readonly locations: number;
  readonly metadata: string;
  /** Medians over `runs`. */
  readonly oursSeconds: number;
  readonly oursObjectsPerSecond: number;
  /** rclone's best: the two pairwise checks at once or one after the other, whichever was faster. */
  readonly rcloneSeconds: number;
  readonly rcloneObjectsPerSecond: number;
  /** The two checks started at once (the later one's time). */
  readonly rcloneParallelSeconds: number;
  /** The same two checks one after the other (sum). */
  readonly rcloneSequentialSeconds: number;
  /** rclone seconds (best) / ours: above 1 means we are faster. Target > 1. */
  readonly ratio: number;
  readonly oursRssMiB: number;
  readonly oursHeapMiB: number;
  /** rclone's peak RSS in its best mode (at once: both processes summed; one after the other: the larger). */
  readonly rcloneRssMiB: number;
  readonly oursCpuSeconds: number;
  /** CPU seconds of the rclone processes of the reference run (both checks). */
  readonly rcloneCpuSeconds: number;
  /** CPU seconds each server (the three object servers, PostgreSQL) spent during a side's run (medians). */
  readonly serverCpu: { readonly ours: Readonly<Record<string, number>>; readonly rclone: Readonly<Record<string, number>> };
  readonly oursOpenSeconds: number;
  /** Seconds each location's scan took (medians), within ours. */
  readonly oursPerLocation: Readonly<Record<string, number>>;
  /** Seconds each rclone check took (medians), when run at once. */
  readonly rclonePerCheck: Readonly<Record<string, number>>;
  /** One page of a directory's worth of objects, per location: of the flat listing, and of one directory's (ms, medians of 3). */
  readonly pageCosts: PageCosts;
  readonly populateSeconds: number | null;
  readonly note?: string;
  readonly runs: number;
  readonly samples: { readonly oursSeconds: number[]; readonly rcloneParallelSeconds: number[]; readonly rcloneSequentialSeconds: number[] };
}

interface PageCosts {
  readonly objects: number;
  readonly ms: Readonly<Record<string, { readonly flat: number; readonly directory: number }>>;
}

interface Servers {
  readonly env: Record<string, string>;
  /** Each server's process id, by name. */
  pids(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

function keyOf(i: number, total: number): string {
  const width = String(total - 1).length;
  return `d${String(i % DIRECTORIES).padStart(2, '0')}/o${String(i).padStart(width, '0')}`;
}

/** The bench's own instances of MinIO, Azurite and fake-gcs-server, their data kept under the lab home. */
async function startServers(root: string, log: (line: string) => void): Promise<Servers> {
  const started: PrivateServer[] = [];
  try {
    for (const name of ['minio', 'azurite', 'fake-gcs'] as const) {
      const dir = join(root, name);
      await mkdir(dir, { recursive: true });
      started.push(await startPrivateServer(name, { dir }));
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw err;
  }
  log(`drift: servers of its own on ports ${started.map((s) => `${s.name} ${s.port}`).join(', ')}, data in ${root}`);
  return {
    env: Object.assign({}, ...started.map((s) => s.env)) as Record<string, string>,
    pids: async () => {
      const pids: Record<string, number> = {};
      for (const server of started) {
        const pid = await server.pid();
        if (pid !== undefined) pids[server.name] = pid;
      }
      return pids;
    },
    stop: async () => void (await Promise.allSettled(started.map((s) => s.stop()))),
  };
}

/** What the replicator records: the put's checksums and its (bare) ETag, as recordedChecksums in src/replication/replicator.ts. */
function recorded(put: PutResult): ProviderChecksums {
  return { ...put.checksums, ...(put.etag === undefined ? {} : { etag: put.etag }) };
}

async function populated(metadata: MetadataStore, stores: ReadonlyArray<{ location: string; store: ObjectStore }>, objects: number): Promise<boolean> {
  const marker = await metadata.findFileByKey(MARKER_KEY);
  if (marker?.currentVersion == null) return false;
  const version = await metadata.getVersion(marker.id, marker.currentVersion);
  if (version.metadata['objects'] !== String(objects)) return false;
  const last = keyOf(objects - 1, objects);
  const present = await Promise.all(stores.map(({ store }) => store.head(last).then(
    () => true,
    () => false,
  )));
  return present.every(Boolean);
}

async function populate(metadataConfig: MetadataConfig & { kind: 'postgres' }, stores: ReadonlyArray<{ location: string; store: ObjectStore }>, objects: number, log: (line: string) => void): Promise<void> {
  // A fresh schema: a half-written one would hold versions and replicas from other puts.
  const admin = new pg.Client({ connectionString: metadataConfig.url });
  await admin.connect();
  try {
    await admin.query(`drop schema if exists "${metadataConfig.schema}" cascade`);
  } finally {
    await admin.end();
  }
  const metadata = await openMetadataStore(metadataConfig);
  try {
    await Promise.all(stores.map(({ store }) => store.ensureContainer()));
    const started = performance.now();
    let pendingMetadata: Promise<void> = Promise.resolve();
    for (let from = 0; from < objects; from += CHUNK) {
      const to = Math.min(objects, from + CHUNK);
      const entries: Array<{ key: string; size: number; sha256: string; puts: PutResult[] }> = [];
      let next = from;
      await Promise.all(
        Array.from({ length: PUT_CONCURRENCY }, async () => {
          for (let i = next++; i < to; i = next++) {
            const key = keyOf(i, objects);
            const body = randomBytes(64 + (i % 193));
            const puts = await Promise.all(stores.map(({ store }) => store.put(key, Readable.from([body]), { size: body.length })));
            entries.push({ key, size: body.length, sha256: createHash('sha256').update(body).digest('hex'), puts });
          }
        }),
      );
      await pendingMetadata;
      const batches: Array<typeof entries> = [];
      for (let b = 0; b < entries.length; b += METADATA_BATCH) batches.push(entries.slice(b, b + METADATA_BATCH));
      pendingMetadata = Promise.all(
        batches.map((batch) =>
          metadata.transaction(async (tx) => {
            for (const entry of batch) {
              const file = await tx.createFile({ key: entry.key, contentType: 'application/octet-stream' });
              const version = await tx.addVersion({ fileId: file.id, state: 'committed', size: entry.size, sha256: entry.sha256, encryption: { format: 'none', keyIds: [] }, writtenBy: 'bench' });
              for (const [i, { location }] of stores.entries()) {
                const put = entry.puts[i]!;
                await tx.upsertReplica({ fileId: file.id, version: version.version, location, objectKey: entry.key, state: 'verified', storedSize: put.size, checksums: recorded(put) });
              }
            }
          }),
        ),
      ).then(() => undefined);
      const seconds = (performance.now() - started) / 1000;
      log(`drift: populated ${to}/${objects} objects × ${stores.length} in ${seconds.toFixed(0)} s (${((to * stores.length) / seconds).toFixed(0)} puts/s)`);
    }
    await pendingMetadata;
    const marker = await metadata.createFile({ key: MARKER_KEY });
    await metadata.addVersion({ fileId: marker.id, state: 'committed', size: 0, sha256: createHash('sha256').digest('hex'), encryption: { format: 'none', keyIds: [] }, metadata: { objects: String(objects) } });
  } finally {
    await metadata.close();
  }
}

/**
 * What one page of a listing costs at each location: the first `count` objects of the flat
 * listing (what scanLocation asks for, page after page) against the `count` objects of one
 * directory (what rclone check asks for, directory by directory), `count` being a directory's
 * worth (1000 at 100k). Medians of 3, in this process.
 */
async function probePages(locations: ReadonlyArray<{ location: string; store: StoreConfig }>, count: number, log: (line: string) => void): Promise<PageCosts> {
  const ms: Record<string, { flat: number; directory: number }> = {};
  for (const l of locations) {
    const store = await openStore(l.store);
    try {
      const time = async (prefix: string): Promise<number> => {
        const samples: number[] = [];
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const page = await store.listPage(prefix, { limit: count });
          samples.push(performance.now() - started);
          if (page.items.length !== count) throw new Error(`drift: ${l.location}: a page of '${prefix}' held ${page.items.length} objects, expected ${count}`);
        }
        return median(samples);
      };
      ms[l.location] = { flat: await time(''), directory: await time(`d${String(DIRECTORIES >> 1).padStart(2, '0')}/`) };
    } finally {
      await store.close();
    }
  }
  log(`drift: a page of ${count} objects, flat listing vs one directory: ${Object.entries(ms).map(([l, c]) => `${l} ${c.flat.toFixed(0)} vs ${c.directory.toFixed(0)} ms`).join(', ')}`);
  return { objects: count, ms };
}

function missNote(row: DriftRow, flat: boolean): string {
  const slowest = Object.entries(row.oursPerLocation).sort((a, b) => b[1] - a[1])[0];
  const costs = Object.entries(row.pageCosts.ms)
    .map(([l, c]) => `${l} ${c.flat.toFixed(0)} ms flat, ${c.directory.toFixed(0)} ms for one directory`)
    .join('; ');
  const head = `slower than rclone check (${(Math.floor(row.ratio * 1000) / 1000).toFixed(3)}); slowest location ${slowest?.[0]} (${slowest?.[1].toFixed(1)} s); our process ${row.oursCpuSeconds.toFixed(1)} CPU-s, rclone's ${row.rcloneCpuSeconds.toFixed(1)}. A page of ${row.pageCosts.objects} objects costs ${costs}. `;
  if (flat) {
    return (
      head +
      `Listed flat, ${Math.ceil(row.objects / 1000)} pages of 1000 one after the other; Azurite and fake-gcs-server serve every page of a flat listing in time that grows with the whole ` +
      `container, while rclone check lists directory by directory, ${RCLONE_CHECKERS} at once, each a small listing`
    );
  }
  return (
    head +
    `Listing ${RCLONE_CHECKERS} prefixes at once like rclone, the servers' page costs are rclone's too; what is left is CPU on a machine of ${cpus().length} cores shared with the servers: ` +
    "our process decodes every listing (S3 and GCS through their SDKs' deserializers, Azure as it streams) and garbage-collects the listings it holds"
  );
}

export const DRIFT_CASES = { full: { objects: 100_000, runs: 3 }, quick: { objects: 5_000, runs: 1 } } as const;

/** MOVINGDATA_BENCH_DRIFT_OBJECTS and MOVINGDATA_BENCH_RUNS override the case's figures. */
export async function runDriftBench(lab: Readonly<Record<string, string>>, workDir: string, which: { readonly objects: number; readonly runs: number }, log: (line: string) => void): Promise<DriftRow[]> {
  const objects = positiveInteger('MOVINGDATA_BENCH_DRIFT_OBJECTS', which.objects);
  const runs = positiveInteger('MOVINGDATA_BENCH_RUNS', which.runs);
  const label = objects % 1000 === 0 ? `${objects / 1000}k` : String(objects);
  const bucket = `bench-drift-${label}`;
  const databaseUrl = lab['DATABASE_URL'];
  if (databaseUrl === undefined) throw new Error('drift: the lab has no DATABASE_URL (PostgreSQL)');
  const servers = await startServers(join(labHome(), 'bench', `drift-${label}`), log);
  try {
    const { S3_SSE_KMS_KEY_ID: _sse, ...plain } = { ...lab, ...servers.env };
    const config = loadConfig({
      ...plain,
      // rclone check compares MD5s: MinIO's ETag is one only without SSE-KMS.
      S3_SSE_KMS_KEY_ID: 'none',
      S3_BUCKET: bucket,
      AZURE_CONTAINER: bucket,
      GCS_BUCKET: bucket,
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: `bench_drift_${label}`,
      DATABASE_POOL_SIZE: '16',
      MOVINGDATA_DATA_DIR: join(workDir, 'drift-data'),
    });
    if (config.metadata.kind !== 'postgres') throw new Error('drift: expected PostgreSQL metadata');
    const metadataConfig = config.metadata;
    const locations = config.locations.map((l) => ({ location: l.name, store: l.store }));
    for (const l of locations) if (l.store.provider === 'local') throw new Error(`drift: location ${l.location} is not on a server`);

    // One-time population (cached between runs).
    let populateSeconds: number | null = null;
    {
      const stores = await Promise.all(locations.map(async (l) => ({ location: l.location, store: await openStore(l.store) })));
      const metadata = await openMetadataStore(metadataConfig);
      let ready: boolean;
      try {
        ready = process.env['MOVINGDATA_BENCH_DRIFT_REPOPULATE'] !== '1' && (await populated(metadata, stores, objects));
      } finally {
        await metadata.close();
      }
      if (ready) log(`drift: ${objects} objects × ${locations.length} already in place (schema ${metadataConfig.schema}, buckets ${bucket})`);
      else {
        log(`drift: populating ${objects} objects × ${locations.length} and their metadata (once; cached after)`);
        const started = performance.now();
        await populate(metadataConfig, stores, objects, log);
        populateSeconds = (performance.now() - started) / 1000;
      }
      await Promise.all(stores.map((s) => s.store.close()));
    }

    const pageCosts = await probePages(locations, Math.min(1000, Math.floor(objects / DIRECTORIES)), log);

    const remotes = rcloneRemotes({ ...lab, ...servers.env });
    const pairs: Array<{ name: string; a: Remote; b: Remote }> = [
      { name: 'aws↔azure', a: remotes.s3, b: remotes.azure },
      { name: 'aws↔gcp', a: remotes.s3, b: remotes.gcs },
    ];
    const env = rcloneEnv(Object.assign({}, remotes.s3.env, remotes.azure.env, remotes.gcs.env));
    const check = async (pair: (typeof pairs)[number]) => {
      const m = await runMeasured('rclone', ['check', `${pair.a.name}:${bucket}`, `${pair.b.name}:${bucket}`, '--checkers', String(RCLONE_CHECKERS), '--use-json-log', '-v', '--stats', '1h'], env);
      const elapsed = rcloneElapsed(m.stderr);
      return { seconds: Number.isFinite(elapsed) ? elapsed : m.seconds, rss: m.maxRssMiB, cpu: m.cpuSeconds };
    };
    const workerEnv: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: join(workDir, 'node-compile-cache') };
    const profile = process.env['MOVINGDATA_BENCH_CPU_PROF'] === '1';
    if (profile) await mkdir(PROFILE_DIR, { recursive: true });
    const worker = async (job: DriftJob): Promise<DriftWorkerResult & { rss: number }> => {
      // With the flags `movingdata worker` (where scans run in this deployment) and the server run.
      const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=drift-${Date.now()}.cpuprofile`] : [];
      const m = await runMeasured(process.execPath, [...NODE_FLAGS, ...flags, WORKER, JSON.stringify(job)], workerEnv);
      const result = JSON.parse(m.stdout.trim().split('\n').pop() ?? '{}') as DriftWorkerResult;
      for (const l of result.locations) {
        const drift = Object.entries(l.counts).filter(([, n]) => n > 0);
        if (l.objects !== objects || l.replicas !== objects || drift.length > 0) {
          throw new Error(
            `drift: ${l.location}: ${l.objects} objects, ${l.replicas} replicas, drift ${JSON.stringify(Object.fromEntries(drift))}; expected ${objects} of each and no drift ` +
              '(set MOVINGDATA_BENCH_DRIFT_REPOPULATE=1 to write the data again)',
          );
        }
      }
      return { ...result, rss: m.maxRssMiB };
    };
    const variants: Array<{ name: string; job: DriftJob }> = [{ name: 'ours (scanLocation × 3 at once)', job: { mode: 'scan', metadata: metadataConfig, locations } }];
    if (process.env['MOVINGDATA_BENCH_DRIFT_FLAT'] === '1') {
      variants.push({ name: 'ours, flat listing (listConcurrency 1)', job: { mode: 'scan', metadata: metadataConfig, locations, listConcurrency: 1 } });
    }

    // Fills the compile cache; not measured.
    await worker({ mode: 'open', metadata: metadataConfig, locations });

    // Where the machine's CPU goes during each side: the servers' share, next to the clients'.
    const postgres = (await labStatus()).find((st) => st.name === 'postgres')?.pid;
    const pids: Record<string, number> = { ...(await servers.pids()), ...(postgres === undefined ? {} : { postgres }) };
    const serverCpu = (): Record<string, number> => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpu(pid)]));
    const serverSamples: Record<string, Array<Record<string, number>>> = {};
    const serverMedians = (side: string): Record<string, number> =>
      Object.fromEntries(Object.keys(pids).map((k) => [k, median((serverSamples[side] ?? []).map((sample) => sample[k] ?? Number.NaN))]));

    const ours = variants.map(() => [] as Array<DriftWorkerResult & { rss: number }>);
    const parallel: Array<{ seconds: number; rss: number; cpu: number; each: Record<string, number> }> = [];
    const sequential: Array<{ seconds: number; rss: number; cpu: number }> = [];
    for (let run = 1; run <= runs; run++) {
      const sides: Array<[string, () => Promise<void>]> = [
        ...variants.map((v, i): [string, () => Promise<void>] => [v.name, async () => void ours[i]!.push(await worker(v.job))]),
        [
          RCLONE_AT_ONCE,
          async () => {
            const both = await Promise.all(pairs.map(check));
            parallel.push({
              seconds: Math.max(...both.map((b) => b.seconds)),
              rss: both.reduce((a, b) => a + b.rss, 0),
              cpu: both.reduce((a, b) => a + b.cpu, 0),
              each: Object.fromEntries(pairs.map((p, i) => [p.name, both[i]!.seconds])),
            });
          },
        ],
        [
          RCLONE_ONE_BY_ONE,
          async () => {
            let seconds = 0;
            let rss = 0;
            let cpu = 0;
            for (const pair of pairs) {
              const one = await check(pair);
              seconds += one.seconds;
              rss = Math.max(rss, one.rss);
              cpu += one.cpu;
            }
            sequential.push({ seconds, rss, cpu });
          },
        ],
      ];
      const order = [...sides.slice((run - 1) % sides.length), ...sides.slice(0, (run - 1) % sides.length)];
      for (const [name, measure] of order) {
        log(`drift ${objects} run ${run}/${runs}: ${name}`);
        const before = serverCpu();
        await measure();
        const after = serverCpu();
        (serverSamples[name] ??= []).push(Object.fromEntries(Object.keys(pids).map((k) => [k, (after[k] ?? Number.NaN) - (before[k] ?? Number.NaN)])));
      }
    }

    const total = objects * locations.length;
    const rcloneParallelSeconds = median(parallel.map((r) => r.seconds));
    const rcloneSequentialSeconds = median(sequential.map((r) => r.seconds));
    const rcloneSeconds = Math.min(rcloneParallelSeconds, rcloneSequentialSeconds);
    const rcloneBest = rcloneSeconds === rcloneParallelSeconds ? parallel : sequential;
    const rclonePerCheck = Object.fromEntries(pairs.map((p) => [p.name, median(parallel.map((r) => r.each[p.name] ?? Number.NaN))]));
    log(
      `drift ${objects}: rclone check ${rcloneParallelSeconds.toFixed(2)} s at once (${Object.entries(rclonePerCheck)
        .map(([p, s]) => `${p} ${s.toFixed(2)}`)
        .join(', ')}), ${rcloneSequentialSeconds.toFixed(2)} s one after the other`,
    );
    return variants.map((variant, i): DriftRow => {
      const samples = ours[i]!;
      const oursSeconds = median(samples.map((r) => r.seconds));
      const row: DriftRow = {
        variant: variant.name,
        objects,
        locations: locations.length,
        metadata: `PostgreSQL (schema ${metadataConfig.schema})`,
        oursSeconds,
        oursObjectsPerSecond: total / oursSeconds,
        rcloneSeconds,
        rcloneObjectsPerSecond: total / rcloneSeconds,
        rcloneParallelSeconds,
        rcloneSequentialSeconds,
        ratio: rcloneSeconds / oursSeconds,
        oursRssMiB: median(samples.map((r) => r.rss)),
        oursHeapMiB: median(samples.map((r) => r.peakHeapUsedMiB)),
        rcloneRssMiB: median(rcloneBest.map((r) => r.rss)),
        oursCpuSeconds: median(samples.map((r) => r.cpuSeconds)),
        rcloneCpuSeconds: median(rcloneBest.map((r) => r.cpu)),
        serverCpu: { ours: serverMedians(variant.name), rclone: serverMedians(rcloneBest === parallel ? RCLONE_AT_ONCE : RCLONE_ONE_BY_ONE) },
        oursOpenSeconds: median(samples.map((r) => r.openSeconds)),
        oursPerLocation: Object.fromEntries(locations.map((l) => [l.location, median(samples.map((r) => r.locations.find((x) => x.location === l.location)?.seconds ?? Number.NaN))])),
        rclonePerCheck,
        pageCosts,
        populateSeconds,
        runs,
        samples: { oursSeconds: samples.map((r) => r.seconds), rcloneParallelSeconds: parallel.map((r) => r.seconds), rcloneSequentialSeconds: sequential.map((r) => r.seconds) },
      };
      log(
        `drift ${objects}: ${variant.name}: ${oursSeconds.toFixed(2)} s (${Object.entries(row.oursPerLocation)
          .map(([l, s]) => `${l} ${s.toFixed(2)}`)
          .join(', ')}; opening ${row.oursOpenSeconds.toFixed(2)} s; ${row.oursCpuSeconds.toFixed(1)} CPU-s; JS heap peak ${row.oursHeapMiB.toFixed(0)} MiB)`,
      );
      const note = row.ratio < 1 ? missNote(row, variant.job.listConcurrency === 1) : undefined;
      return note === undefined ? row : { ...row, note };
    });
  } finally {
    await servers.stop();
  }
}

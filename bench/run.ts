/**
 * `npm run bench [-- <suite...>] [--quick]`: benchmarks on the lab, each printed as our figure,
 * the reference's figure and the ratio, side by side, and saved to bench/results/.
 *
 * Suites: storage (put/get per adapter vs rclone), crypto (age encrypt/decrypt streams vs
 * `openssl speed -evp chacha20-poly1305`, in-process, no lab needed), encryption (1 GiB per
 * adapter, encrypted vs plain through the same adapter), api (peak RSS of the server while a
 * 4 GiB object goes through PUT and GET /files, on embedded defaults and on the lab),
 * fanout (1 MiB × 1000 and 256 MiB × 4 fanned out encrypted and verified to azure + gcp vs
 * `rclone copy` to each and vs plain puts through the same adapters: the raw-SDK ceiling),
 * drift (drift scan of 100k objects on each of aws, azure and gcp against PostgreSQL metadata vs
 * `rclone check` aws↔azure and aws↔gcp on the same objects; populated once, then cached),
 * small (2,000 × 4 KiB PUT then GET at concurrency 16 through /files/aws vs the AWS SDK straight
 * to MinIO, CPU per request of our server, PostgreSQL and MinIO; embedded figures beside),
 * nab (our streaming detector on the NAB corpus in NAB_DIR, default the fixture subset, scored
 * with NAB's method on its three profiles beside the published detectors; writes NAB-format
 * result files to bench/results/nab/ for NAB's own scorer; no lab needed),
 * events (telemetry into Kafka through our adapter and access events through the outbox beside
 * Kafka's ProducerPerformance on the same broker; detection latency to /stream/peek),
 * tiering (our histogram GBDT's training and prediction time and accuracy beside scikit-learn's
 * HistGradientBoostingClassifier on the same data, in the lab's Python),
 * web (the dashboard's time to interactive in headless Chromium on embedded defaults, and its
 * gzipped JavaScript; no lab needed).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { startLab } from '../src/lab/index.ts';
import { table } from './lib/table.ts';
import { FULL_CASES, QUICK_CASES, runStorageBench } from './storage/storage.ts';
import { opensslVersion, runCryptoBench } from './crypto/crypto.ts';
import { runApiBench } from './api/api.ts';
import { runEncryptionBench } from './encryption/encryption.ts';
import { DRIFT_CASES, runDriftBench } from './drift/drift.ts';
import { runNabBench } from './nab/nab.ts';
import { printModelBench, runModelBench } from './tiering/model.ts';
import { printPolicyBench, runPolicyBench } from './tiering/policies.ts';
import { FULL_CASE as EVENTS_FULL, QUICK_CASE as EVENTS_QUICK, runEventsBench } from './events/events.ts';
import { FULL_CASE as SMALL_FULL, QUICK_CASE as SMALL_QUICK, runSmallBench } from './small/small.ts';
import { FULL_CASES as FANOUT_FULL, QUICK_CASES as FANOUT_QUICK, runFanoutBench } from './fanout/fanout.ts';
import { median } from './lib/stats.ts';
import { TARGET_GZIP_KIB, TARGET_INVENTORY_MS, TARGET_TTI_MS, runInventoryBench, runWebBench } from './web/web.ts';

const SUITES = ['storage', 'crypto', 'encryption', 'api', 'fanout', 'drift', 'small', 'nab', 'events', 'tiering', 'web'] as const;

const { values, positionals } = parseArgs({ options: { quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
if (values.help) {
  console.log(`usage: npm run bench [-- <suite...>] [--quick]\n\nsuites: ${SUITES.join(', ')} (default: all)\n--quick  small sizes, for a smoke run`);
  process.exit(0);
}
const chosen = positionals.length === 0 ? [...SUITES] : positionals;
for (const name of chosen) {
  if (!(SUITES as readonly string[]).includes(name)) {
    console.error(`bench: unknown suite '${name}'; suites: ${SUITES.join(', ')}`);
    process.exit(2);
  }
}

const log = (line: string) => console.error(`bench: ${line}`);
const rcloneVersion = chosen.some((s) => ['storage', 'fanout', 'drift'].includes(s)) ? (execFileSync('rclone', ['version'], { encoding: 'utf8' }).split('\n')[0] ?? 'rclone ?') : 'rclone not used';
const openssl = chosen.includes('crypto') ? opensslVersion() : 'openssl not used';
console.log(`MovingData benchmarks — node ${process.version}, ${rcloneVersion}, ${openssl}, ${cpus().length} CPUs, ${new Date().toISOString()}${values.quick ? ' (quick)' : ''}`);

// Every suite but crypto, nab, tiering and web needs the lab's servers.
const lab = chosen.some((s) => s !== 'crypto' && s !== 'nab' && s !== 'tiering' && s !== 'web') ? (await startLab()).env : {};
const workDir = await mkdtemp(join(tmpdir(), 'movingdata-bench-'));
const results: Record<string, unknown> = {};
try {
  if (chosen.includes('storage')) {
    const rows = await runStorageBench(lab, workDir, values.quick ? QUICK_CASES : FULL_CASES, log);
    results['storage'] = rows;
    console.log('\nStorage put/get, MiB/s (ratio = ours / rclone; above 1 means faster than rclone)');
    console.log(
      table(
        ['adapter', 'case', 'op', 'ours MiB/s', 'rclone MiB/s', 'ratio', 'ours RSS MiB', 'rclone RSS MiB'],
        rows.map((r) => [r.adapter, r.case, r.op, r.oursMiBs, r.rcloneMiBs, r.ratio, r.oursRssMiB, r.rcloneRssMiB]),
      ),
    );
    for (const row of rows) if (row.note !== undefined) console.log(`note: ${row.adapter} ${row.case} ${row.op}: ${row.note}`);
  }
  if (chosen.includes('crypto')) {
    const rows = await runCryptoBench(log, values.quick ? { bytes: 256 * 1024 * 1024, rounds: 1, opensslSeconds: 1 } : {});
    results['crypto'] = rows;
    console.log(
      '\nage encryption, one core, MiB/s (ratio = ours / openssl speed; target ≥ 0.7; openssl -aead = a whole AEAD message per 64 KiB block; node:crypto = bare createCipheriv loop, ' +
        'the floor our streams sit on; update-only = one cipher fed 64 KiB updates, the ceiling of any per-call node:crypto design)',
    );
    console.log(
      table(
        ['op', 'MiB', 'ours MiB/s', 'openssl MiB/s', 'ratio', 'openssl -aead MiB/s', 'node:crypto MiB/s', 'ours/node:crypto', 'update-only MiB/s', 'update-only/openssl', 'ours CPU/wall'],
        rows.map((r) => [
          r.op,
          r.bytes / (1024 * 1024),
          r.oursMiBs,
          r.opensslMiBs,
          r.ratio,
          r.opensslAeadMiBs,
          r.nodeCryptoMiBs,
          r.oursMiBs / r.nodeCryptoMiBs,
          r.nodeUpdateOnlyMiBs,
          r.nodeUpdateOnlyMiBs / r.opensslMiBs,
          r.oursCpuPerWall,
        ]),
      ),
    );
  }
  if (chosen.includes('encryption')) {
    const rows = await runEncryptionBench(lab, workDir, values.quick ? 128 * 1024 * 1024 : 1024 * 1024 * 1024, log);
    results['encryption'] = rows;
    console.log('\nEncrypted vs plain through the same adapter, MiB/s (ratio = encrypted / plain; 1.0 = encryption is free)');
    console.log(
      table(
        ['adapter', 'op', 'MiB', 'plain MiB/s', 'encrypted MiB/s', 'ratio', 'plain RSS MiB', 'encrypted RSS MiB'],
        rows.map((r) => [r.adapter, r.op, r.bytes / (1024 * 1024), r.plainMiBs, r.encryptedMiBs, r.ratio, r.plainRssMiB, r.encryptedRssMiB]),
      ),
    );
  }
  if (chosen.includes('api')) {
    const bytes = values.quick ? 256 * 1024 * 1024 : 4 * 1024 * 1024 * 1024;
    const embedded = await runApiBench({}, join(workDir, 'api-embedded'), bytes, ['aws'], log);
    // Not gcp: fake-gcs-server reads a whole upload into memory before storing it (4 GiB of RAM
    // on the lab server for nothing this benchmark measures: the control plane's own memory).
    const onLab = await runApiBench(lab, join(workDir, 'api-lab'), bytes, ['aws', 'azure'], log);
    const rows = [...embedded.map((r) => ({ setup: 'embedded (PGlite, local disk)', ...r })), ...onLab.map((r) => ({ setup: 'lab (PostgreSQL, real servers)', ...r }))];
    results['api'] = rows;
    console.log('\nA large object through the API (server process; peak RSS target < 128 MiB; peak is the whole run so far)');
    console.log(
      table(
        ['setup', 'location', 'MiB', 'PUT MiB/s', 'GET MiB/s', 'idle RSS MiB', 'peak RSS MiB', 'under 128 MiB'],
        rows.map((r) => [r.setup, r.location, r.bytes / (1024 * 1024), r.putMiBs, r.getMiBs, r.idleRssMiB, r.peakRssMiB, r.peakRssMiB < 128 ? 'yes' : 'NO']),
      ),
    );
  }
  if (chosen.includes('fanout')) {
    const rows = await runFanoutBench(lab, workDir, values.quick ? FANOUT_QUICK : FANOUT_FULL, log);
    results['fanout'] = rows;
    console.log('\nFan-out to azure + gcp, encrypted and verified, MiB/s of plaintext (ours/rclone: rclone = one `rclone copy` per destination, one after the other; target > 1. ours/ceiling: ceiling = plain put through the same adapters to both at once; target ≥ 0.85. rclone ‖ = both rclone runs at once)');
    console.log(
      table(
        ['case', 'at once', 'ours MiB/s', 'rclone MiB/s', 'rclone ‖ MiB/s', 'ceiling MiB/s', 'ours/rclone', 'ours/ceiling', 'ours RSS MiB', 'rclone RSS MiB', 'ceiling RSS MiB'],
        rows.map((r) => [r.case, String(r.concurrency), r.oursMiBs, r.rcloneMiBs, r.rcloneParallelMiBs, r.ceilingMiBs, r.ratioRclone, r.ratioCeiling, r.oursRssMiB, r.rcloneRssMiB, r.ceilingRssMiB]),
      ),
    );
    for (const row of rows) if (row.note !== undefined) console.log(`note: fanout ${row.case}: ${row.note}`);
  }
  if (chosen.includes('small')) {
    const run = values.quick ? SMALL_QUICK : SMALL_FULL;
    const rows = await runSmallBench(lab, workDir, run, log);
    results['small'] = rows;
    console.log(
      `\nSmall objects: ${run.objects} × ${run.bytes} B, concurrency ${run.concurrency}, one client process (ratio = ours / MinIO direct req/s, target ≥ 0.6; p99 ratio target ≤ 1.5; CPU ms per request by process)`,
    );
    console.log(
      table(
        ['setup', 'side', 'op', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'p99 ratio', 'server CPU ms', 'postgres CPU ms', 'minio CPU ms'],
        rows.map((r) => [r.setup, r.side, r.op, r.perSecond, r.p50Ms, r.p99Ms, r.ratio ?? '', r.p99Ratio ?? '', r.serverCpuMs, r.postgresCpuMs, r.minioCpuMs]),
      ),
    );
  }
  if (chosen.includes('events')) {
    const rows = await runEventsBench(lab, workDir, values.quick ? EVENTS_QUICK : EVENTS_FULL, log);
    results['events'] = rows;
    console.log('\nEvents (ratio = ours / ProducerPerformance, same broker, same run)');
    console.log(table(['what', 'ours events/s', 'ProducerPerformance events/s', 'ratio', 'target', 'p50 ms', 'p99 ms'], rows.map((r) => [r.what, r.oursPerSecond, r.referencePerSecond ?? '', r.ratio ?? '', r.target, r.p50Ms ?? '', r.p99Ms ?? ''])));
  }
  if (chosen.includes('tiering')) {
    const rows = await runModelBench(log, values.quick ? { trainRows: 4000, predictRows: 20_000 } : {});
    results['tiering'] = rows;
    console.log('\nTier model: our histogram GBDT beside scikit-learn HistGradientBoostingClassifier (same data, one thread each)');
    printModelBench(rows);
    const policies = await runPolicyBench(log, values.quick ? { seeds: [2026], objects: 500, files: 20_000 } : {});
    results['tiering-policies'] = policies;
    printPolicyBench(policies);
  }
  if (chosen.includes('web')) {
    const result = await runWebBench(workDir, { runs: values.quick ? 3 : 10 }, log);
    results['web'] = result;
    console.log(`\nDashboard: Overview time to interactive (navigation start → its data painted, headless Chromium, embedded defaults, seed files; ${result.coldMs.length} runs) and gzipped JavaScript`);
    console.log(
      table(
        ['figure', 'value', 'target', 'met'],
        [
          ['TTI cold (fresh context), median ms', result.coldMedianMs, `< ${TARGET_TTI_MS}`, result.coldMedianMs < TARGET_TTI_MS ? 'yes' : 'NO'],
          ['TTI cold, worst ms', result.coldMaxMs, `< ${TARGET_TTI_MS}`, result.coldMaxMs < TARGET_TTI_MS ? 'yes' : 'NO'],
          ['TTI warm (reload), median ms', result.warmMedianMs, `< ${TARGET_TTI_MS}`, result.warmMedianMs < TARGET_TTI_MS ? 'yes' : 'NO'],
          ['JS gzip, first load, KiB', result.firstLoadJsGzipKiB, `< ${TARGET_GZIP_KIB}`, result.firstLoadJsGzipKiB < TARGET_GZIP_KIB ? 'yes' : 'NO'],
          ['JS gzip, all chunks, KiB', result.allJsGzipKiB, `< ${TARGET_GZIP_KIB}`, result.allJsGzipKiB < TARGET_GZIP_KIB ? 'yes' : 'NO'],
          ['JS raw, all chunks, KiB', result.allJsKiB, '', ''],
        ],
      ),
    );
    console.log(table(['chunk', 'KiB', 'gzip KiB', 'first load'], result.chunks.map((c) => [c.file, c.kib, c.gzipKiB, c.firstLoad ? 'yes' : 'lazy'])));
    const inventory = await runInventoryBench(workDir, { runs: values.quick ? 3 : 10 }, log);
    results['web-inventory'] = inventory;
    const met = (ms: number) => (ms < TARGET_INVENTORY_MS ? 'yes' : 'NO');
    console.log(`\nDashboard: the Inventory at ${inventory.files.toLocaleString('en')} files (embedded defaults; ${inventory.firstRowsMs.length} runs): GET /files page latency, and in Chromium the first rows and a filter's rows painted`);
    console.log(
      table(
        ['figure', 'median ms', 'worst ms', 'target', 'met'],
        [
          ...inventory.api.map((a) => [`GET /files: ${a.query} (${a.items} items)`, a.medianMs, a.maxMs, `< ${TARGET_INVENTORY_MS}`, met(a.medianMs)]),
          ['page: click on Inventory → first rows painted', median([...inventory.inAppMs]), Math.max(...inventory.inAppMs), `< ${TARGET_INVENTORY_MS}`, met(median([...inventory.inAppMs]))],
          ['page: its address opened → first rows (shell start incl.)', median([...inventory.firstRowsMs]), Math.max(...inventory.firstRowsMs), '', ''],
          ['page: tier filter → its rows painted', median([...inventory.filteredMs]), Math.max(...inventory.filteredMs), `< ${TARGET_INVENTORY_MS}`, met(median([...inventory.filteredMs]))],
          ['page: search typed → its rows (250 ms debounce incl.)', median([...inventory.searchedMs]), Math.max(...inventory.searchedMs), '', ''],
        ],
      ),
    );
  }
  if (chosen.includes('nab')) {
    const rows = await runNabBench({ outDir: join(import.meta.dirname, 'results', 'nab'), log });
    results['nab'] = rows;
    console.log('\nNAB scores (normalised, NAB scoring method; reference = the published detector on the same files; target ≥ 65 standard)');
    console.log(table(['detector', 'profile', 'score', 'threshold', 'reference', 'events/s'], rows.map((r) => [r.detector, r.profile, r.score, r.threshold, r.reference ?? '', r.eventsPerSecond ?? ''])));
  }
  if (chosen.includes('drift')) {
    const rows = await runDriftBench(lab, workDir, values.quick ? DRIFT_CASES.quick : DRIFT_CASES.full, log);
    results['drift'] = rows;
    console.log(
      '\nDrift scan of aws + azure + gcp (PostgreSQL metadata) vs `rclone check` aws↔azure + aws↔gcp (rclone s = the faster of the two checks at once / one after the other; ratio = rclone s / ours s, target > 1; obj/s = objects at the three locations / s)',
    );
    console.log(
      table(
        ['scan', 'objects', 'ours s', 'ours obj/s', 'rclone s', 'rclone obj/s', 'ratio', 'rclone at once s', 'rclone 1-by-1 s', 'ours RSS MiB', 'rclone RSS MiB'],
        rows.map((r) => [r.variant, `${r.objects} × ${r.locations}`, r.oursSeconds, r.oursObjectsPerSecond, r.rcloneSeconds, r.rcloneObjectsPerSecond, r.ratio, r.rcloneParallelSeconds, r.rcloneSequentialSeconds, r.oursRssMiB, r.rcloneRssMiB]),
      ),
    );
    for (const r of rows) {
      const where = Object.entries(r.oursPerLocation).map(([l, s]) => `${l} ${s.toFixed(1)} s`).join(', ');
      const servers = (cpu: Readonly<Record<string, number>>): string => Object.entries(cpu).map(([k, s]) => `${k} ${s.toFixed(1)}`).join(', ');
      console.log(`${r.variant}: per location ${where}; ${r.oursCpuSeconds.toFixed(1)} CPU-s (rclone ${r.rcloneCpuSeconds.toFixed(1)})`);
      console.log(`  servers' CPU-s during ours: ${servers(r.serverCpu.ours)}; during rclone: ${servers(r.serverCpu.rclone)}`);
    }
    for (const r of rows) if (r.note !== undefined) console.log(`note: drift, ${r.variant}: ${r.note}`);
  }
} finally {
  await rm(workDir, { recursive: true, force: true });
}
const resultsDir = join(import.meta.dirname, 'results');
await mkdir(resultsDir, { recursive: true });
const file = join(resultsDir, `bench-${new Date().toISOString().replaceAll(':', '-')}.json`);
await writeFile(file, JSON.stringify({ node: process.version, rclone: rcloneVersion, openssl, quick: values.quick ?? false, results }, null, 2));
console.log(`\nsaved ${file}`);

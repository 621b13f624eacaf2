/**
 * `npm run bench [-- <suite...>] [--quick]`: benchmarks on the lab, each printed as our figure,
 * the reference's figure and the ratio, side by side, and saved to bench/results/.
 *
 * Suites: storage (put/get per adapter vs rclone).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { startLab } from '../src/lab/index.ts';
import { table } from './lib/table.ts';
import { FULL_CASES, QUICK_CASES, runStorageBench } from './storage/storage.ts';

const SUITES = ['storage'] as const;

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
const rcloneVersion = execFileSync('rclone', ['version'], { encoding: 'utf8' }).split('\n')[0] ?? 'rclone ?';
console.log(`MovingData benchmarks — node ${process.version}, ${rcloneVersion}, ${cpus().length} CPUs, ${new Date().toISOString()}${values.quick ? ' (quick)' : ''}`);

const { env: lab } = await startLab();
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
  }
} finally {
  await rm(workDir, { recursive: true, force: true });
}
const resultsDir = join(import.meta.dirname, 'results');
await mkdir(resultsDir, { recursive: true });
const file = join(resultsDir, `bench-${new Date().toISOString().replaceAll(':', '-')}.json`);
await writeFile(file, JSON.stringify({ node: process.version, rclone: rcloneVersion, quick: values.quick ?? false, results }, null, 2));
console.log(`\nsaved ${file}`);

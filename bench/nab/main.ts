/**
 * `node bench/nab/main.ts [outDir]`: the NAB suite on its own (bench/run.ts wires it in with the
 * others). Scores our detector on the fixture's NAB subset, or on the NAB checkout `NAB_DIR`
 * names, and prints ours next to the reference scoreboard; result files go to outDir
 * (default bench/results/nab).
 */
import { join } from 'node:path';
import { table } from '../lib/table.ts';
import { runNabBench } from './nab.ts';

const outDir = process.argv[2] ?? join(import.meta.dirname, '../results/nab');
const rows = await runNabBench({ outDir, log: (line) => console.error(`bench: ${line}`) });
console.log('\nNAB, normalised scores (ours = our scorer; reference = NAB\'s own scorer on the 31-file subset, README)');
console.log(
  table(
    ['detector', 'profile', 'ours', 'reference', 'threshold', 'events/s'],
    rows.map((r) => [r.detector, r.profile, fixed(r.score, 2), fixed(r.reference, 2), fixed(r.threshold, 4), r.eventsPerSecond === undefined ? '-' : String(Math.round(r.eventsPerSecond))]),
  ),
);

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

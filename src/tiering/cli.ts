/**
 * Command line for the tiering evaluation, runnable directly by Node:
 *
 *   node src/tiering/cli.ts generate --seed 7 --objects 2000 --days 365 > trace.jsonl
 *   node src/tiering/cli.ts evaluate trace.jsonl [--decisions out.json] [--prices override.json]
 *
 * `evaluate` prints the total cost of always-hot, lifecycle 30/90, S3 Intelligent-Tiering and
 * the offline optimum on the trace (JSON), and writes every policy's decisions when asked.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { awsBillingRules } from './billing.ts';
import { generateTrace } from './generate.ts';
import { optimizeTrace } from './optimum.ts';
import { loadPriceTables } from './prices.ts';
import { builtinPolicies, simulate } from './simulate.ts';
import { formatTrace, parseTrace } from './trace.ts';

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'generate') {
    const { values } = parseArgs({
      args: rest,
      options: { seed: { type: 'string', default: '1' }, objects: { type: 'string', default: '200' }, days: { type: 'string', default: '365' } },
    });
    process.stdout.write(formatTrace(generateTrace({ seed: Number(values.seed), objects: Number(values.objects), days: Number(values.days) })));
    return;
  }
  if (command === 'evaluate') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { decisions: { type: 'string' }, prices: { type: 'string' } },
    });
    const file = positionals[0];
    if (file === undefined) throw new Error('evaluate: a trace file is required');
    const trace = parseTrace(await readFile(file, 'utf8'));
    const tables = await loadPriceTables(values.prices === undefined ? {} : { overrideFile: values.prices });
    const rules = awsBillingRules(tables.aws);
    const started = performance.now();
    const results = builtinPolicies(rules).map((p) => simulate(rules, trace, p));
    const optimum = optimizeTrace(rules, trace);
    const seconds = (performance.now() - started) / 1000;
    const costs: Record<string, number> = {};
    for (const r of results) costs[r.policy] = Number(r.total.toFixed(4));
    costs['optimum'] = Number(optimum.total.toFixed(4));
    console.log(JSON.stringify({ objects: trace.objects.length, days: trace.days, costs, seconds: Number(seconds.toFixed(2)) }, null, 2));
    if (values.decisions !== undefined) {
      const all: Record<string, unknown> = { optimum: optimum.decisions };
      for (const r of results) all[r.policy] = r.decisions;
      await writeFile(values.decisions, JSON.stringify(all));
    }
    return;
  }
  throw new Error('usage: cli.ts generate [--seed N --objects N --days N] | evaluate TRACE [--decisions FILE] [--prices OVERRIDE]');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

/**
 * Command line for the tiering evaluation, runnable directly by Node:
 *
 *   node src/tiering/cli.ts generate --seed 7 --objects 2000 --days 365 > trace.jsonl
 *   node src/tiering/cli.ts evaluate trace.jsonl [--decisions DIR] [--prices override.json]
 *
 * `evaluate` prints the total cost of always-hot, lifecycle 30/90, S3 Intelligent-Tiering and
 * the offline optimum on the trace (JSON), and with --decisions writes one file per policy,
 * `DIR/<policy>.json` = `{"key": [[day, "STANDARD" | "STANDARD_IA" | "GLACIER_IR"], ...]}`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { awsBillingRules } from './billing.ts';
import { evaluate } from './evaluate.ts';
import { generateTrace } from './generate.ts';
import { loadPriceTables } from './prices.ts';
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
    const rows = evaluate(rules, trace);
    const seconds = (performance.now() - started) / 1000;
    const costs: Record<string, { total: number; overOptimum: string }> = {};
    for (const r of rows) costs[r.name] = { total: Number(r.total.toFixed(4)), overOptimum: `${(r.overOptimum * 100).toFixed(1)}%` };
    console.log(JSON.stringify({ objects: trace.objects.length, days: trace.days, costs, seconds: Number(seconds.toFixed(2)) }, null, 2));
    if (values.decisions !== undefined) {
      await mkdir(values.decisions, { recursive: true });
      for (const r of rows) await writeFile(join(values.decisions, `${r.name.replace(/[^A-Za-z0-9_-]/g, '_')}.json`), JSON.stringify(r.decisions));
    }
    return;
  }
  throw new Error('usage: cli.ts generate [--seed N --objects N --days N] | evaluate TRACE [--decisions FILE] [--prices OVERRIDE]');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});

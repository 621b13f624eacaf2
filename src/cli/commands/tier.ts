/**
 * `movingdata tier`: the tiering evaluation on access traces (src/tiering/).
 *
 *   movingdata tier generate [--seed N] [--objects N] [--days N] > TRACE.jsonl
 *   movingdata tier simulate --trace TRACE.jsonl [--policy NAME] [--out DECISIONS.json] [--prices FILE]
 *
 * `simulate` feeds the trace to each policy day by day (a decision for day d sees only the
 * reads before day d) and prints, side by side, the cost of always-hot, lifecycle 30/90,
 * S3 Intelligent-Tiering and the offline optimum (the cheapest schedule in hindsight), billed
 * with AWS us-east-1 list prices by the rules in src/tiering/billing.ts. `--out` writes the
 * decisions of `--policy` (default: the optimum) as {"key": [[day, class], ...]}.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { awsBillingRules } from '../../tiering/billing.ts';
import { evaluate } from '../../tiering/evaluate.ts';
import { generateTrace } from '../../tiering/generate.ts';
import { loadPriceTables } from '../../tiering/prices.ts';
import { formatTrace, parseTrace } from '../../tiering/trace.ts';

const HELP = `usage: movingdata tier <generate|simulate> [options]

  tier generate [--seed N] [--objects N] [--days N]
      Write a synthetic access trace (JSON lines) to stdout: decaying uploads and logs,
      periodic reports, archives with rare reactivations, hot assets, bursty datasets.
  tier simulate --trace TRACE.jsonl [--policy NAME] [--out DECISIONS.json] [--prices FILE]
      Cost of each policy on the trace beside the offline optimum. --prices names a file of
      negotiated prices merged over the built-in tables. --out writes --policy's decisions
      (default: optimum).

Trace format: first line {"days": D, "provider": "aws"}; then one object a line,
{"key": str, "size": bytes, "created_day": int, "reads": [[day, count], ...]}.`;

function usage(message: string): number {
  console.error(`movingdata tier: ${message}\n\n${HELP}`);
  return 2;
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === '--help' || verb === '-h') {
    console.log(HELP);
    return verb === undefined ? 2 : 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        seed: { type: 'string' },
        objects: { type: 'string' },
        days: { type: 'string' },
        trace: { type: 'string' },
        policy: { type: 'string' },
        out: { type: 'string' },
        prices: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (err) {
    return usage(err instanceof Error ? err.message : String(err));
  }
  const { values } = parsed;
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  if (verb === 'generate') {
    try {
      process.stdout.write(formatTrace(generateTrace({ seed: positive(values.seed, 'seed', 1), objects: positive(values.objects, 'objects', 200), days: positive(values.days, 'days', 365) })));
      return 0;
    } catch (err) {
      return usage(err instanceof Error ? err.message : String(err));
    }
  }
  if (verb !== 'simulate') return usage(`unknown subcommand '${verb}'`);
  if (values.trace === undefined) return usage('simulate needs --trace TRACE.jsonl');
  const text = await readFile(values.trace, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read ${values.trace}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const trace = parseTrace(text);
  const tables = await loadPriceTables(values.prices === undefined ? {} : { overrideFile: values.prices });
  const started = performance.now();
  const rows = evaluate(awsBillingRules(tables.aws), trace);
  const seconds = (performance.now() - started) / 1000;
  const width = Math.max(...rows.map((r) => r.name.length), 6);
  console.log(`${trace.objects.length} objects, ${trace.days} days, AWS list prices (${seconds.toFixed(2)} s)\n`);
  console.log(`${'policy'.padEnd(width)}  ${'cost USD'.padStart(12)}  ${'vs optimum'.padStart(10)}`);
  for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.total.toFixed(2).padStart(12)}  ${`${r.overOptimum >= 0 ? '+' : ''}${(r.overOptimum * 100).toFixed(1)}%`.padStart(10)}`);
  if (values.out !== undefined) {
    const name = values.policy ?? 'optimum';
    const chosen = rows.find((r) => r.name === name);
    if (chosen === undefined) return usage(`no policy '${name}'; policies: ${rows.map((r) => r.name).join(', ')}`);
    await writeFile(values.out, `${JSON.stringify(chosen.decisions)}\n`);
    console.error(`decisions of ${name} written to ${values.out}`);
  }
  return 0;
}

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
import { trainAndEvaluate, tierModelFromJSON, type TierModel } from '../../tiering/model/index.ts';
import { modelRulesPolicy, rulesPolicy } from '../../tiering/policies.ts';
import { loadDefaultModel } from '../../tiering/service.ts';
import { trainingRecordsFromTrace } from '../../tiering/training.ts';
import { parseArgs } from 'node:util';
import { awsBillingRules } from '../../tiering/billing.ts';
import { evaluate } from '../../tiering/evaluate.ts';
import { generateTrace } from '../../tiering/generate.ts';
import { loadPriceTables } from '../../tiering/prices.ts';
import { formatTrace, parseTrace } from '../../tiering/trace.ts';

const HELP = `usage: movingdata tier <generate|simulate|train> [options]

  tier generate [--seed N] [--objects N] [--days N]
      Write a synthetic access trace (JSON lines) to stdout: decaying uploads and logs,
      periodic reports, archives with rare reactivations, hot assets, bursty datasets.
  tier simulate --trace TRACE.jsonl [--model MODEL.json] [--policy NAME] [--out DECISIONS.json] [--prices FILE]
      Cost of each policy on the trace beside the offline optimum: always-hot, lifecycle 30/90,
      intelligent-tiering, rules (ours alone), model+rules (ours) and the optimum. The model is
      --model, else the default model shipped with MovingData (never one trained on this trace).
      --prices names a file of negotiated prices merged over the built-in tables. --out writes
      --policy's decisions (default: model+rules).
  tier train --trace TRAIN.jsonl [--out MODEL.json] [--seed N]
      Train the tier model on the trace, each object's days labelled by the offline optimum;
      prints held-out accuracy and log loss, writes the model (default tier-model.json).

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
        model: { type: 'string' },
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
  if (verb !== 'simulate' && verb !== 'train') return usage(`unknown subcommand '${verb}'`);
  if (values.trace === undefined) return usage(`${verb} needs --trace TRACE.jsonl`);
  const text = await readFile(values.trace, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read ${values.trace}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const trace = parseTrace(text);
  const tables = await loadPriceTables(values.prices === undefined ? {} : { overrideFile: values.prices });
  if (verb === 'train') {
    const seed = positive(values.seed, 'seed', 1);
    const started = performance.now();
    const records = trainingRecordsFromTrace(trace, tables, { seed });
    const { model, metrics } = trainAndEvaluate(records, { ...DEFAULT_MODEL_OPTIONS, seed });
    const out = values.out ?? 'tier-model.json';
    await writeFile(out, `${JSON.stringify(model.toJSON())}\n`);
    console.log(`${records.length} records from ${trace.objects.length} objects (labels: the offline optimum's tier); ${model.kind} model, ${model.iterations} iterations, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    console.log(`held-out: ${metrics.count} records, accuracy ${(metrics.accuracy * 100).toFixed(1)} %, log loss ${metrics.logLoss.toFixed(3)}`);
    console.log(`written to ${out}`);
    return 0;
  }
  let model: TierModel | undefined;
  if (values.model !== undefined) {
    const file = values.model;
    const json = await readFile(file, 'utf8').catch((err: unknown) => {
      throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    });
    try {
      model = tierModelFromJSON(JSON.parse(json));
    } catch (err) {
      throw new Error(`${file} is not a tier model (make one with \`movingdata tier train\`): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  } else {
    model = await loadDefaultModel();
    if (model === undefined) console.error('no default model in this checkout: model+rules is left out (pass --model)');
  }
  const table = tables.aws;
  const ours = [rulesPolicy(table), ...(model === undefined ? [] : [modelRulesPolicy(model, table)])];
  const started = performance.now();
  const rows = evaluate(awsBillingRules(table), trace, ours);
  const seconds = (performance.now() - started) / 1000;
  const width = Math.max(...rows.map((r) => r.name.length), 6);
  console.log(`${trace.objects.length} objects, ${trace.days} days, AWS list prices (${seconds.toFixed(2)} s)\n`);
  console.log(`${'policy'.padEnd(width)}  ${'cost USD'.padStart(12)}  ${'vs optimum'.padStart(10)}`);
  for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.total.toFixed(2).padStart(12)}  ${`${r.overOptimum >= 0 ? '+' : ''}${(r.overOptimum * 100).toFixed(1)}%`.padStart(10)}`);
  if (values.out !== undefined) {
    const name = values.policy ?? (model === undefined ? 'rules' : 'model+rules');
    const chosen = rows.find((r) => r.name === name);
    if (chosen === undefined) return usage(`no policy '${name}'; policies: ${rows.map((r) => r.name).join(', ')}`);
    await writeFile(values.out, `${JSON.stringify(chosen.decisions)}\n`);
    console.error(`decisions of ${name} written to ${values.out}`);
  }
  return 0;
}

/** The shipped default model's size: small enough to keep in the repository (a few hundred KB). */
const DEFAULT_MODEL_OPTIONS = { maxIter: 60, maxLeafNodes: 15 } as const;

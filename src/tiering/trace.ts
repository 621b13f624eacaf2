/**
 * Access traces, the common input of the simulator, the offline optimum and the model's
 * evaluation. JSON lines: a header `{"days": D, "provider": "aws"}`, then one object a line
 * `{"key": str, "size": bytes, "created_day": int, "reads": [[day, count], ...]}` with read days
 * strictly increasing, from `created_day` to `D - 1`.
 *
 * The parser refuses anything else with the line number and field, because a silently skipped
 * or misread line would shift every cost the evaluation reports.
 */
import { MovingDataError } from '../errors.ts';
import type { Provider } from './prices.ts';
import { PROVIDERS } from './prices.ts';

export type ReadDay = readonly [day: number, count: number];

export interface TraceObject {
  readonly key: string;
  readonly size: number;
  readonly createdDay: number;
  readonly reads: readonly ReadDay[];
}

export interface Trace {
  readonly days: number;
  readonly provider: Provider;
  readonly objects: readonly TraceObject[];
}

function bad(line: number, why: string): never {
  throw new MovingDataError('invalid_argument', `trace line ${line}: ${why}`, { details: { line } });
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export function parseTrace(text: string): Trace {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) bad(1, 'empty trace (a header line is required)');
  const parse = (i: number): unknown => {
    try {
      return JSON.parse(lines[i]!) as unknown;
    } catch {
      return bad(i + 1, 'not valid JSON');
    }
  };
  const header = parse(0);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad(1, 'header must be an object');
  const h = header as Record<string, unknown>;
  const days = h['days'];
  if (!isInt(days) || days < 1) bad(1, '"days" must be an integer ≥ 1');
  const provider = h['provider'];
  if (typeof provider !== 'string' || !(PROVIDERS as readonly string[]).includes(provider)) {
    bad(1, `"provider" must be one of ${PROVIDERS.join(', ')}`);
  }
  const keys = new Set<string>();
  const objects: TraceObject[] = [];
  for (let i = 1; i < lines.length; i += 1) {
    const n = i + 1;
    const v = parse(i);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(n, 'must be an object');
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['key', 'size', 'created_day', 'reads'].includes(k)) bad(n, `unknown field "${k}"`);
    const key = o['key'];
    if (typeof key !== 'string' || key.length === 0) bad(n, '"key" must be a non-empty string');
    if (keys.has(key)) bad(n, `duplicate key "${key}"`);
    keys.add(key);
    const size = o['size'];
    if (!isInt(size) || size < 0) bad(n, '"size" must be an integer ≥ 0 (bytes)');
    const created = o['created_day'];
    if (!isInt(created) || created < 0 || created >= days) bad(n, `"created_day" must be an integer in 0..${days - 1}`);
    const readsIn = o['reads'];
    if (!Array.isArray(readsIn)) bad(n, '"reads" must be an array of [day, count]');
    const reads: ReadDay[] = [];
    let last = -1;
    for (const [j, r] of (readsIn as unknown[]).entries()) {
      if (!Array.isArray(r) || r.length !== 2) bad(n, `reads[${j}] must be [day, count]`);
      const [day, count] = r as unknown[];
      if (!isInt(day) || day < created || day >= days) bad(n, `reads[${j}]: day must be an integer in ${created}..${days - 1}`);
      if (day <= last) bad(n, `reads[${j}]: days must be strictly increasing`);
      if (!isInt(count) || count < 1) bad(n, `reads[${j}]: count must be an integer ≥ 1`);
      last = day;
      reads.push(Object.freeze([day, count] as const));
    }
    objects.push(Object.freeze({ key, size, createdDay: created, reads: Object.freeze(reads) }));
  }
  return Object.freeze({ days, provider: provider as Provider, objects: Object.freeze(objects) });
}

export function formatTrace(trace: Trace): string {
  const out = [JSON.stringify({ days: trace.days, provider: trace.provider })];
  for (const o of trace.objects) out.push(JSON.stringify({ key: o.key, size: o.size, created_day: o.createdDay, reads: o.reads }));
  return `${out.join('\n')}\n`;
}

/** Reads per day as a dense array over the trace (index = day). */
export function denseReads(obj: TraceObject, days: number): Uint32Array {
  const out = new Uint32Array(days);
  for (const [d, c] of obj.reads) out[d] = c;
  return out;
}

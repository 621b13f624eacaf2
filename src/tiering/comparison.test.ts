/**
 * The policy comparison's simulation in its worker thread: the same answer as in-process, the
 * event loop free meanwhile, and a worker that takes too long stopped with `unavailable`.
 */
import { describe, expect, it } from 'vitest';
import { compareInWorker } from './comparison.ts';
import { compare } from './comparison-worker.ts';
import { generateTrace } from './generate.ts';
import { loadPriceTables } from './prices.ts';
import { loadDefaultModel } from './service.ts';

describe('the policy comparison in a worker thread', () => {
  it('answers what the simulation answers in-process, without holding up the event loop', async () => {
    const tables = await loadPriceTables({});
    const model = await loadDefaultModel();
    expect(model).toBeDefined();
    const input = { trace: generateTrace({ seed: 11, objects: 150, days: 90 }), table: tables.aws, model: model!.toJSON() };
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 10);
    const started = performance.now();
    const rows = await compareInWorker(input).finally(() => clearInterval(ticker));
    const elapsed = performance.now() - started;
    expect(rows.map((r) => r.name)).toEqual(['always-hot', 'lifecycle-30/90', 'intelligent-tiering', 'rules', 'model+rules', 'optimum']);
    expect(rows).toEqual(compare(input));
    const optimum = rows.find((r) => r.name === 'optimum')!.total;
    for (const r of rows) expect(r.total).toBeGreaterThanOrEqual(optimum * (1 - 1e-9));
    // The loop kept turning while the worker computed (a blocked loop would tick about once).
    expect(ticks).toBeGreaterThan(Math.min(5, elapsed / 40));
  });

  it('stops a worker that takes too long, with unavailable', async () => {
    const tables = await loadPriceTables({});
    const input = { trace: generateTrace({ seed: 2, objects: 400, days: 365 }), table: tables.aws, model: null };
    await expect(compareInWorker(input, 1)).rejects.toMatchObject({ code: 'unavailable', retryable: true });
  });
});

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, run } from '../run.ts';

describe('movingdata tier', () => {
  let dir: string;
  const env = { PATH: process.env['PATH'] ?? '' };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'movingdata-tier-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('generates a trace and prints each policy beside the optimum, which no policy beats; --out writes decisions', async () => {
    const generated = await run(process.execPath, [BIN, 'tier', 'generate', '--seed', '5', '--objects', '60', '--days', '120'], env);
    expect(generated.code).toBe(0);
    const trace = join(dir, 'trace.jsonl');
    await writeFile(trace, generated.stdout);
    expect(JSON.parse(generated.stdout.split('\n')[0]!)).toEqual({ days: 120, provider: 'aws' });
    const out = join(dir, 'decisions.json');
    const simulated = await run(process.execPath, [BIN, 'tier', 'simulate', '--trace', trace, '--policy', 'intelligent-tiering', '--out', out], env);
    expect(simulated.code).toBe(0);
    const costs = Object.fromEntries([...simulated.stdout.matchAll(/^(\S+)\s+([\d.]+)\s+[+-][\d.]+%$/gm)].map((m) => [m[1]!, Number(m[2])]));
    expect(Object.keys(costs).sort()).toEqual(['always-hot', 'intelligent-tiering', 'lifecycle-30/90', 'model+rules', 'optimum', 'rules']);
    for (const [name, cost] of Object.entries(costs)) expect(cost, name).toBeGreaterThanOrEqual(costs['optimum']!);
    const decisions = JSON.parse(await readFile(out, 'utf8')) as Record<string, Array<[number, string]>>;
    expect(Object.keys(decisions).length).toBeGreaterThan(0);
    for (const changes of Object.values(decisions)) {
      for (const [day, cls] of changes) {
        expect(['STANDARD', 'STANDARD_IA', 'GLACIER_IR']).toContain(cls);
        expect(day).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('tier train writes a model from an auto-labelled trace; simulate --model uses it, --out writes model+rules decisions; a bad model file is refused', async () => {
    const train = join(dir, 'train.jsonl');
    const generated = await run(process.execPath, [BIN, 'tier', 'generate', '--seed', '11', '--objects', '80', '--days', '120'], env);
    await writeFile(train, generated.stdout);
    const model = join(dir, 'model.json');
    const trained = await run(process.execPath, [BIN, 'tier', 'train', '--trace', train, '--out', model], env);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stdout).toMatch(/held-out: \d+ records, accuracy [\d.]+ %/);
    expect(JSON.parse(await readFile(model, 'utf8'))).toMatchObject({ format: 'movingdata.tier-model' });
    const trace = join(dir, 'trace.jsonl');
    const out = join(dir, 'ours.json');
    const simulated = await run(process.execPath, [BIN, 'tier', 'simulate', '--trace', trace, '--model', model, '--out', out], env);
    expect(simulated.code, simulated.stderr).toBe(0);
    expect(simulated.stderr).toContain('decisions of model+rules');
    expect(Object.keys(JSON.parse(await readFile(out, 'utf8')) as object).length).toBeGreaterThan(0);
    const notModel = join(dir, 'not-a-model.json');
    await writeFile(notModel, '{"format": "something else"}');
    const refused = await run(process.execPath, [BIN, 'tier', 'simulate', '--trace', trace, '--model', notModel], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('is not a tier model');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a malformed trace and a missing one with a message and a non-zero exit, no stack trace', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"days": 3}\n');
    for (const args of [['--trace', bad], ['--trace', join(dir, 'missing.jsonl')], []]) {
      const result = await run(process.execPath, [BIN, 'tier', 'simulate', ...args], env);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await run(process.execPath, [BIN, 'tier', 'simulate', '--trace', bad], env)).stderr).toContain('provider');
  });
});

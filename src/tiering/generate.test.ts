import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { OBJECT_KINDS, generateTrace } from './generate.ts';
import { formatTrace, parseTrace } from './trace.ts';

const FIXTURES = new URL('../../test/fixtures/traces/', import.meta.url);

describe('trace generator', () => {
  it('is deterministic per seed, and seeds differ', () => {
    const a = formatTrace(generateTrace({ seed: 5, objects: 300, days: 200 }));
    const b = formatTrace(generateTrace({ seed: 5, objects: 300, days: 200 }));
    const c = formatTrace(generateTrace({ seed: 6, objects: 300, days: 200 }));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('reproduces the stored fixtures byte for byte', async () => {
    for (const seed of [11, 12, 13]) {
      const stored = await readFile(new URL(`mix-200x365-seed${seed}.jsonl`, FIXTURES), 'utf8');
      expect(formatTrace(generateTrace({ seed, objects: 200, days: 365 }))).toBe(stored);
    }
  });

  it('produces a valid, varied mix: every kind, sizes from KiB to GB, idle and hot objects', () => {
    const t = parseTrace(formatTrace(generateTrace({ seed: 1, objects: 2000, days: 365 })));
    const kinds = new Set(t.objects.map((o) => o.key.split('/')[0]));
    expect([...kinds].sort()).toEqual([...OBJECT_KINDS].sort());
    const sizes = t.objects.map((o) => o.size);
    expect(Math.min(...sizes)).toBeLessThan(64 * 1024);
    expect(Math.max(...sizes)).toBeGreaterThan(10 * 2 ** 30);
    const readDays = t.objects.map((o) => o.reads.length);
    expect(readDays.filter((n) => n === 0).length).toBeGreaterThan(100);
    expect(readDays.filter((n) => n > 300).length).toBeGreaterThan(50);
  });
});

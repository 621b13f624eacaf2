import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROVIDERS, TIER_CLASSES, classForTier, loadPriceTables } from './prices.ts';

async function overrideFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'md-prices-'));
  const file = join(dir, 'negotiated.json');
  await writeFile(file, content);
  return file;
}

describe('price tables', () => {
  it('load and validate the bundled tables, every tier mapped and every figure sourced and dated', async () => {
    const tables = await loadPriceTables();
    for (const p of PROVIDERS) {
      const t = tables[p];
      expect(t.provider).toBe(p);
      for (const tier of TIER_CLASSES) expect(classForTier(t, tier).storagePerGbMonth.value).toBeGreaterThan(0);
      for (const cls of Object.values(t.classes)) {
        for (const f of [cls.storagePerGbMonth, cls.readPer1000, cls.writePer1000, cls.minDurationDays]) {
          expect(t.sources[f.src]).toMatch(/^https:\/\//);
          expect(f.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        }
      }
    }
    const aws = tables.aws;
    expect(aws.tiers).toEqual({ hot: 'STANDARD', cool: 'STANDARD_IA', cold: 'GLACIER_IR', archive: 'DEEP_ARCHIVE' });
    expect(Object.keys(aws.classes)).toEqual(
      expect.arrayContaining(['STANDARD', 'STANDARD_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE', 'INTELLIGENT_TIERING']),
    );
    expect(aws.classes['STANDARD_IA']!.minBillableBytes.value).toBe(128 * 1024);
    expect(aws.classes['GLACIER_IR']!.minDurationDays.value).toBe(90);
    expect(aws.autoTiering['INTELLIGENT_TIERING']!.monitoringPer1000ObjectsMonth.value).toBe(0.0025);
    expect(tables.azure.tiers).toEqual({ hot: 'Hot', cool: 'Cool', cold: 'Cold', archive: 'Archive' });
    expect(tables.gcp.classes['ARCHIVE']!.minDurationDays.value).toBe(365);
    expect(tables.gcp.autoTiering['AUTOCLASS']).toBeDefined();
    // Egress between providers is priced both ways.
    expect(aws.egressPerGb.gcp!.value).toBeGreaterThan(0);
    expect(tables.gcp.egressPerGb.azure!.value).toBeGreaterThan(0);
  });

  it('merges a negotiated override over the defaults and marks it as such', async () => {
    const file = await overrideFile(JSON.stringify({ aws: { classes: { STANDARD: { storagePerGbMonth: 0.019 } } } }));
    const tables = await loadPriceTables({ overrideFile: file });
    const f = tables.aws.classes['STANDARD']!.storagePerGbMonth;
    expect(f.value).toBe(0.019);
    expect(f.src).toBe(`override:${file}`);
    // Everything else keeps list price.
    expect(tables.aws.classes['STANDARD_IA']!.storagePerGbMonth.value).toBe(0.0125);
    expect(tables.azure.classes['Hot']!.storagePerGbMonth.value).toBe(0.018);
  });

  it('refuses a bad override with a message naming the file and the field', async () => {
    const cases: Array<[string, RegExp]> = [
      [JSON.stringify({ aws: { classes: { STANDARD: { storagePerGbMonth: -1 } } } }), /negotiated\.json \[aws\]: classes\.STANDARD\.storagePerGbMonth\.value: must be a finite number ≥ 0/],
      [JSON.stringify({ aws: { classes: { STANDRD: { storagePerGbMonth: 0.02 } } } }), /negotiated\.json: aws\.classes\.STANDRD: unknown storage class/],
      [JSON.stringify({ aws: { classes: { STANDARD: { storagePerGB: 0.02 } } } }), /negotiated\.json: aws\.classes\.STANDARD\.storagePerGB: unknown field/],
      [JSON.stringify({ oracle: {} }), /negotiated\.json: oracle: unknown provider/],
      [JSON.stringify({ aws: { classes: { STANDARD_IA: { minDurationDays: 29.5 } } } }), /classes\.STANDARD_IA\.minDurationDays\.value: must be an integer/],
      ['{ not json', /negotiated\.json: not valid JSON/],
    ];
    for (const [content, message] of cases) {
      const file = await overrideFile(content);
      await expect(loadPriceTables({ overrideFile: file })).rejects.toThrow(message);
    }
  });

  it('refuses a broken default table, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'md-prices-dir-'));
    const good = await loadPriceTables();
    await writeFile(join(dir, 'aws.json'), JSON.stringify(good.aws));
    await writeFile(join(dir, 'azure.json'), JSON.stringify({ ...good.azure, tiers: { ...good.azure.tiers, cold: 'Chilly' } }));
    await writeFile(join(dir, 'gcp.json'), JSON.stringify(good.gcp));
    await expect(loadPriceTables({ dir })).rejects.toThrow(/azure\.json: tiers\.cold: names class "Chilly"/);
  });
});

/**
 * The Inventory page over 100,000 files (a bulk fixture written straight into the metadata
 * store, test/fixtures/inventory-fixture.ts), in headless Chromium against a real server on
 * embedded defaults: the first rows come, scrolling loads the next keyset pages while the DOM
 * holds only the rows in view, and a tier filter, a search and a sort answer from the server
 * across the whole inventory. How fast is the bench's business (`npm run bench -- web`).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeInventoryFixture } from '../fixtures/inventory-fixture.ts';
import { collectConsoleErrors, haveChromium, inCi, launchChromium, screenshot, startDemoServer, type DemoServer } from './harness.ts';

const FILES = 100_000;

describe.runIf(haveChromium || inCi)(`the Inventory page over ${FILES.toLocaleString('en')} files`, () => {
  let server: DemoServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];
  const rows = () => page.locator('.inv-scroll [role="row"]');
  const keys = () => rows().evaluateAll((els: ReadonlyArray<{ getAttribute(name: string): string | null }>) => els.map((e) => e.getAttribute('data-key') ?? ''));

  beforeAll(async () => {
    server = await startDemoServer({ TIERING_INTERVAL_S: '0', ENABLE_SYNTHETIC_LOAD: '0' }, { prepare: (dir) => writeInventoryFixture(dir, FILES) });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    collectConsoleErrors(page, consoleErrors);
    await page.goto(server.link);
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Inventory' }).click();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the first rows, and scrolling loads later pages while the DOM keeps only what is in view', async () => {
    await expect.poll(keys, { timeout: 30_000 }).toContain('bench/000001.bin');
    const first = await keys();
    expect(first.length).toBeGreaterThan(5);
    expect(first.length).toBeLessThan(100);
    expect(first).toEqual([...first].sort());

    // Scroll to the end of what is loaded, several times: each time the next page arrives.
    const scroller = page.locator('.inv-scroll');
    let seen = first.at(-1)!;
    for (let i = 0; i < 4; i += 1) {
      await scroller.evaluate((el: { scrollTop: number; scrollHeight: number }) => (el.scrollTop = el.scrollHeight));
      await expect.poll(async () => (await keys()).at(-1)! > seen, { timeout: 15_000 }).toBe(true);
      seen = (await keys()).at(-1)!;
      expect((await keys()).length).toBeLessThan(100);
    }
    // Past the first keyset page of the API (its pages are at most 1,000 files, ours smaller).
    expect(Number(/bench\/(\d+)/.exec(seen)![1])).toBeGreaterThan(100);
    await expect.poll(() => page.getByRole('region', { name: 'Files' }).textContent()).toMatch(/\+ files/);
    await screenshot(page, 'inventory-100k-scrolled');
  });

  it('filters by tier, searches and sorts across the whole inventory on the server', async () => {
    await page.getByLabel('Tier', { exact: true }).selectOption('cool');
    // Every fifth file is cool (file id % 5 = 0): the first match is bench/000005.bin.
    await expect.poll(async () => (await keys())[0], { timeout: 15_000 }).toBe('bench/000005.bin');
    for (const key of await keys()) expect(Number(/bench\/(\d+)/.exec(key)![1]) % 5).toBe(0);
    await page.getByLabel('Tier', { exact: true }).selectOption('');

    await page.getByLabel('Search keys').fill('99990-report');
    await expect.poll(keys, { timeout: 15_000 }).toEqual(['bench/099990-report.csv']);
    await page.getByLabel('Search keys').fill('');
    await expect.poll(async () => (await keys())[0], { timeout: 15_000 }).toBe('bench/000001.bin');

    // Largest first: the fixture's sizes are (i × 7919) mod 10^7; the API says which is largest.
    const largest = await server!.api<{ items: Array<{ key: string }> }>('GET', '/files?limit=1&sort=size&order=desc');
    await page.getByRole('button', { name: /^Sort by size/ }).click();
    await expect.poll(async () => (await keys())[0], { timeout: 15_000 }).toBe(largest.items[0]!.key);
    await screenshot(page, 'inventory-100k-by-size');
    expect(consoleErrors).toEqual([]);
  });
});

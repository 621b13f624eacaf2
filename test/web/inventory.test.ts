/**
 * The Inventory page in a real browser: headless Chromium against a real `movingdata serve
 * --demo` on embedded defaults (test/web/harness.ts). Signs in through the banner's link, finds
 * the seeded files with their cost, tier and recommendation; uploads a file by drag and drop
 * (XMLHttpRequest, progress shown) and downloads it back byte for byte; replicates and deletes a
 * copy; filters, sorts and searches on the server; and a token allowed at one location sees only
 * that location's files, is offered no action elsewhere, and is refused by the API. No console
 * error all along. Screenshots go to test-results/screenshots/.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, collectConsoleErrors, haveChromium, inCi, launchChromium, screenshot, startDemoServer, type DemoServer } from './harness.ts';

if (!haveChromium && !inCi) console.warn(`test/web/inventory.test.ts: SKIPPED, no ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Item {
  key: string;
  size: number;
  monthly_cost_usd: number;
  replicas: Array<{ location: string; tier_class: string | null; recommendation: { tier: string; confidence: number } | null }>;
}

describe.runIf(haveChromium || inCi)('the Inventory page in headless Chromium', () => {
  let server: DemoServer;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];
  const rows = (p: Page = page) => p.getByRole('table', { name: 'Files' }).locator('.inv-scroll [role="row"]');
  const row = (key: string, p: Page = page) => p.locator(`.inv-scroll [role="row"][data-key="${key}"]`);
  const rowKeys = async (p: Page = page) => rows(p).evaluateAll((els: ReadonlyArray<{ getAttribute(name: string): string | null }>) => els.map((e) => e.getAttribute('data-key') ?? ''));

  beforeAll(async () => {
    server = await startDemoServer({ TIERING_INTERVAL_S: '0' });
    await server.api('POST', '/seed', { count: 12 });
    // A dry tiering run with a pin: stored decisions, which the inventory shows as recommendations.
    await server.api('PUT', '/tiering/pins', { location: 'aws', prefix: 'file_00', tier: 'cool' });
    await server.api('POST', '/tiering/run', { dry_run: true, locations: ['aws'] });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    collectConsoleErrors(page, consoleErrors, 'admin ');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in and shows the seeded files with their size, cost, tier and recommended tier', async () => {
    await page.goto(server.link);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Inventory' }).click();
    await page.getByRole('heading', { level: 1, name: 'Inventory' }).waitFor();
    expect(page.url()).toBe(`${server.address}/ui/inventory`);
    await row('file_001.txt').waitFor();
    const listed = (await server.api<{ items: Item[] }>('GET', '/files?limit=100')).items;
    expect(listed.length).toBeGreaterThanOrEqual(12);
    expect(await rowKeys()).toEqual(listed.map((i) => i.key).slice(0, (await rowKeys()).length));
    const first = listed.find((i) => i.key === 'file_001.txt')!;
    expect(first.replicas[0]!.recommendation).toMatchObject({ tier: 'cool' });
    const text = (await row('file_001.txt').textContent())!;
    expect(text).toContain('aws');
    expect(text).toContain('verified');
    expect(text).toContain(first.replicas[0]!.tier_class!);
    expect(text).toMatch(/\$\d/);
    expect(text).toContain(`cool ${Math.round(first.replicas[0]!.recommendation!.confidence * 100)}%`);
    expect(text).toContain('age');
    await screenshot(page, 'inventory');
  });

  it('filters, sorts and searches on the server', async () => {
    // Location: only azure's files.
    await page.getByLabel('Location', { exact: true }).selectOption('azure');
    await expect.poll(async () => (await rowKeys()).join(',')).toBe(['file_002.txt', 'file_005.txt', 'file_008.txt', 'file_011.txt'].join(','));
    await page.getByLabel('Location', { exact: true }).selectOption('');
    // Sort by size, largest first (the seed's bodies differ in length): the API's order.
    await page.getByRole('button', { name: /^Sort by size/ }).click();
    const bySize = (await server.api<{ items: Item[] }>('GET', '/files?sort=size&order=desc&limit=100')).items.map((i) => i.key);
    await expect.poll(async () => (await rowKeys()).join(',')).toBe(bySize.slice(0, (await rowKeys()).length).join(','));
    expect(await page.locator('[role="columnheader"][aria-sort="descending"]').textContent()).toContain('Size');
    await page.getByRole('button', { name: /^Sort by key/ }).click();
    await expect.poll(() => page.locator('[role="columnheader"][aria-sort="ascending"]').textContent()).toContain('Key');
    // Search: a key substring, any case.
    await page.getByLabel('Search keys').fill('FILE_01');
    await expect.poll(async () => (await rowKeys()).join(',')).toBe('file_010.txt,file_011.txt,file_012.txt');
    // Tier: every seeded copy is hot, none cold.
    await page.getByLabel('Tier', { exact: true }).selectOption('cold');
    await page.getByText('No file matches these filters.').waitFor();
    await page.getByLabel('Tier', { exact: true }).selectOption('hot');
    await expect.poll(async () => (await rowKeys()).length).toBe(3);
    await screenshot(page, 'inventory-filtered');
    await page.getByLabel('Tier', { exact: true }).selectOption('');
    await page.getByLabel('Search keys').fill('');
    await row('file_001.txt').waitFor();
  });

  it('uploads a file by drag and drop with progress, then downloads it back byte for byte', async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const name = `dropped-${Date.now()}.bin`;
    const key = `e2e/${name}`;
    await page.getByLabel('Upload to').selectOption('azure');
    await page.getByLabel('Key prefix').fill('e2e/');
    // A slow uplink, so the progress bar has time to show.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
    const dataTransfer = await page.evaluateHandle(
      ({ b64, fileName }) => {
        const binary = atob(b64);
        const buffer = new Uint8Array(binary.length);
        for (let i = 0; i < binary.length; i++) buffer[i] = binary.charCodeAt(i);
        // In the page: the DOM's DataTransfer (the root type-check has no DOM types).
        const transfer = new (globalThis as unknown as { DataTransfer: new () => { items: { add(file: File): void } } }).DataTransfer();
        transfer.items.add(new File([buffer], fileName, { type: 'application/octet-stream' }));
        return transfer;
      },
      { b64: bytes.toString('base64'), fileName: name },
    );
    await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer });
    const progress = page.getByLabel(`Uploading ${key}`);
    await progress.waitFor({ timeout: 10_000 });
    await expect.poll(async () => Number(await progress.getAttribute('value')), { timeout: 10_000 }).toBeGreaterThan(0);
    await screenshot(page, 'inventory-uploading');
    await expect.poll(() => page.locator('.upload [role="status"]').textContent(), { timeout: 30_000 }).toContain(`Uploaded ${key}`);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();
    const stored = (await server.api<{ items: Item[] }>('GET', `/files?prefix=${encodeURIComponent(key)}`)).items;
    expect(stored.map((i) => [i.key, i.size])).toEqual([[key, bytes.length]]);

    // The new row, then its detail at its own URL.
    await page.getByLabel('Search keys').fill(name);
    await row(key).waitFor();
    await row(key).getByRole('link', { name: key, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: key }).waitFor();
    expect(page.url()).toBe(`${server.address}/ui/inventory/azure/e2e/${name}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download from azure' }).click()]);
    const downloaded = await readFile(await download.path());
    expect(downloaded.length).toBe(bytes.length);
    expect(sha256(downloaded)).toBe(sha256(bytes));
    expect(download.suggestedFilename()).toBe(name);
    // The write (and the read) in the access history, as a chart.
    await page.reload();
    await page.getByRole('img', { name: /Reads and writes per day/ }).waitFor({ timeout: 15_000 });
    await page.getByRole('region', { name: 'Audit trail' }).getByRole('rowheader', { name: 'write' }).first().waitFor();
    await screenshot(page, 'inventory-file-detail');
  });

  it('replicates a copy to another location, and deletes one after a confirmation', async () => {
    const copies = page.getByRole('region', { name: 'Copies' });
    await copies.getByLabel('Replicate to').selectOption('gcp');
    await copies.getByRole('button', { name: 'Replicate' }).click();
    await expect.poll(() => page.locator('.file-detail > [role="status"]').textContent(), { timeout: 30_000 }).toBe('Replicated to gcp: done.');
    await copies.getByRole('rowheader', { name: /^gcp/ }).waitFor();
    await copies.getByRole('button', { name: 'Delete the copy at gcp' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Delete this copy?' });
    await dialog.waitFor();
    await screenshot(page, 'inventory-delete-confirm');
    // Cancel first: nothing happens.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    await copies.getByRole('button', { name: 'Delete the copy at gcp' }).click();
    await dialog.getByRole('button', { name: 'Delete at gcp' }).click();
    await expect.poll(() => page.locator('.file-detail > [role="status"]').textContent(), { timeout: 15_000 }).toBe('Deleted the copy at gcp.');
    await expect.poll(() => copies.getByRole('rowheader', { name: /^gcp/ }).count()).toBe(0);
    const key = decodeURIComponent(new URL(page.url()).pathname.replace('/ui/inventory/azure/', ''));
    const after = (await server.api<{ items: Item[] }>('GET', `/files?prefix=${encodeURIComponent(key)}`)).items;
    expect(after[0]!.replicas.map((r) => r.location)).toEqual(['azure']);
    expect(consoleErrors).toEqual([]);
  });

  it('a token allowed at one location sees only its files, is offered no action elsewhere, and the API refuses it', async () => {
    const { token } = await server.api<{ token: string }>('POST', '/tokens', { name: 'ana', roles: ['analytics'] });
    const me = await server.api<{ locations: Array<{ name: string; read: boolean; write: boolean }> }>('GET', '/me', undefined, token);
    expect(me.locations.filter((l) => l.read).map((l) => l.name)).toEqual(['aws']);
    const other = await browser!.newContext({ viewport: { width: 1440, height: 900 } });
    const limited = await other.newPage();
    const errors: string[] = [];
    collectConsoleErrors(limited, errors, 'ana ');
    await limited.goto(`${server.address}/?token=${token}`);
    await limited.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await limited.goto(`${server.address}/ui/inventory`);
    await row('file_001.txt', limited).waitFor();
    // Only aws's files (the seed puts file_001, 004, 007, 010 there), only aws's copies.
    expect(await rowKeys(limited)).toEqual(['file_001.txt', 'file_004.txt', 'file_007.txt', 'file_010.txt']);
    for (const key of await rowKeys(limited)) expect(await row(key, limited).locator('.inv-locations').textContent()).not.toMatch(/azure|gcp/);
    expect(await limited.getByLabel('Location', { exact: true }).locator('option').allTextContents()).toEqual(['All', 'aws']);
    const uploadTargets = await limited.getByLabel('Upload to').locator('option').allTextContents();
    expect(uploadTargets.every((l) => l === 'aws')).toBe(true);
    // Another location's file is not found by search either.
    await limited.getByLabel('Search keys').fill('file_002');
    await limited.getByText('No file matches these filters.').waitFor();
    await screenshot(limited, 'inventory-limited');
    // Its own file's detail: its copy only, and no replicate or move to where it may not write.
    await limited.goto(`${server.address}/ui/inventory/aws/file_001.txt`);
    await limited.getByRole('heading', { level: 1, name: 'file_001.txt' }).waitFor();
    const copies = limited.getByRole('region', { name: 'Copies' });
    await copies.getByRole('rowheader', { name: /^aws/ }).waitFor();
    expect(await copies.getByRole('rowheader').allTextContents()).toEqual([expect.stringMatching(/^aws/)]);
    expect(await limited.getByLabel('Replicate to').count()).toBe(0);
    expect(await limited.getByLabel('Move from').count()).toBe(0);
    expect(await copies.getByRole('button', { name: /Delete the copy at (azure|gcp)/ }).count()).toBe(0);
    // The API refuses it the other locations' files, whatever the page offers.
    for (const [method, path] of [
      ['GET', '/inventory/files/azure/file_002.txt'],
      ['GET', '/files/azure/file_002.txt'],
      ['DELETE', '/files/azure/file_002.txt'],
      ['POST', '/files/file_001.txt/replicate'],
    ] as const) {
      const response = await fetch(`${server.address}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(method === 'POST' ? { body: JSON.stringify({ to: ['azure'] }) } : {}),
      });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    }
    expect(errors).toEqual([]);
    await other.close();
  });
});

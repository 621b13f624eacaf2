/**
 * The dashboard's two figures (targets from PRODUCT.md):
 * - time to interactive of the Overview: from navigation start to the page's own
 *   `overview-data-painted` mark (its first answers painted: health, storage, drift, alerts),
 *   in headless Chromium (/usr/bin/chromium) against `movingdata serve --demo` on embedded
 *   defaults with the seed's files; each run in a fresh browser context (cold cache), then a
 *   reload (warm). Target < 1.5 s.
 * - gzipped JavaScript of the build: what the first load fetches (the entry and its preloads)
 *   and all chunks (uPlot's comes lazily). Target < 250 KiB. The build writes the .gz files the
 *   server sends (web/vite.config.ts), so these are the bytes on the wire.
 * - the Inventory at 100k files (a fixture written straight into the embedded metadata store:
 *   100,000 files, one verified copy each across aws, azure and gcp, a fifth of them cool): the
 *   API's page latency (GET /files, first and deep pages, sorted, searched, filtered) and, in
 *   Chromium, the time from navigation to the first rows painted (`inventory-rows-painted`) and
 *   from a filter's change to its rows. Target < 300 ms each.
 * No lab needed.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { writeInventoryFixture } from '../../test/fixtures/inventory-fixture.ts';
import { ensureDashboardBuilt, DIST_DIR } from '../../web/scripts/build.ts';
import { BENCH_TOKEN, http, startBenchServer } from '../lib/server.ts';
import { median } from '../lib/stats.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const TARGET_TTI_MS = 1500;
export const TARGET_GZIP_KIB = 250;
export const TARGET_INVENTORY_MS = 300;
export const INVENTORY_FILES = 100_000;

export interface WebBenchResult {
  readonly coldMs: readonly number[];
  readonly warmMs: readonly number[];
  readonly coldMedianMs: number;
  readonly coldMaxMs: number;
  readonly warmMedianMs: number;
  readonly firstLoadJsGzipKiB: number;
  readonly allJsGzipKiB: number;
  readonly allJsKiB: number;
  readonly chunks: ReadonlyArray<{ readonly file: string; readonly kib: number; readonly gzipKiB: number; readonly firstLoad: boolean }>;
  readonly inventory?: InventoryBenchResult;
}

export interface InventoryBenchResult {
  readonly files: number;
  /** GET /files, median and worst ms over the runs, per query. */
  readonly api: ReadonlyArray<{ readonly query: string; readonly medianMs: number; readonly maxMs: number; readonly items: number }>;
  /** The Inventory's address opened (navigation start) → the first rows painted: the shell's start (session, GET /me) included. */
  readonly firstRowsMs: readonly number[];
  /** A click on Inventory in the navigation (from the Overview) → the first rows painted. */
  readonly inAppMs: readonly number[];
  /** A filter's change (tier select) → its rows painted. */
  readonly filteredMs: readonly number[];
  /** Typing a search → its rows painted (the 250 ms debounce included). */
  readonly searchedMs: readonly number[];
}

/** Sizes of the built JavaScript, and which of it the page loads first (index.html's script and preloads). */
export async function bundleSizes(): Promise<Pick<WebBenchResult, 'firstLoadJsGzipKiB' | 'allJsGzipKiB' | 'allJsKiB' | 'chunks'>> {
  const html = await readFile(join(DIST_DIR, 'index.html'), 'utf8');
  const firstLoad = new Set([...html.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!));
  const files = (await readdir(join(DIST_DIR, 'assets'))).filter((f) => f.endsWith('.js'));
  const chunks = await Promise.all(
    files.map(async (file) => ({
      file,
      kib: (await stat(join(DIST_DIR, 'assets', file))).size / 1024,
      gzipKiB: (await stat(join(DIST_DIR, 'assets', `${file}.gz`))).size / 1024,
      firstLoad: firstLoad.has(file),
    })),
  );
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    firstLoadJsGzipKiB: sum(chunks.filter((c) => c.firstLoad).map((c) => c.gzipKiB)),
    allJsGzipKiB: sum(chunks.map((c) => c.gzipKiB)),
    allJsKiB: sum(chunks.map((c) => c.kib)),
    chunks,
  };
}

export async function runWebBench(workDir: string, options: { readonly runs: number }, log: (line: string) => void): Promise<WebBenchResult> {
  if (!existsSync(CHROMIUM)) throw new Error(`the web bench needs ${CHROMIUM} (apt-get install -y chromium)`);
  await ensureDashboardBuilt({ log });
  const sizes = await bundleSizes();
  const server = await startBenchServer({ CONSISTENCY_SCAN_INTERVAL_S: '0' }, join(workDir, 'web'));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    const seeded = await http('POST', server.port, '/seed');
    if (seeded.status !== 200) throw new Error(`POST /seed answered ${seeded.status}: ${seeded.text}`);
    const url = `http://127.0.0.1:${server.port}/`;
    const coldMs: number[] = [];
    const warmMs: number[] = [];
    const painted = async (page: Page): Promise<number> => {
      await page.waitForFunction(() => performance.getEntriesByName('overview-data-painted').length > 0, undefined, { timeout: 30_000 });
      return page.evaluate(() => performance.getEntriesByName('overview-data-painted')[0]!.startTime);
    };
    for (let run = 0; run < options.runs + 1; run += 1) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addCookies([{ name: 'movingdata_session', value: BENCH_TOKEN, url, httpOnly: true, sameSite: 'Strict' }]);
      const page = await context.newPage();
      await page.goto(url);
      const cold = await painted(page);
      await page.reload();
      const warm = await painted(page);
      await context.close();
      // The first run warms the server (module compile cache, PGlite's plans): not counted.
      if (run === 0) continue;
      coldMs.push(cold);
      warmMs.push(warm);
      log(`web: run ${run}: cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms`);
    }
    return { coldMs, warmMs, coldMedianMs: median(coldMs), coldMaxMs: Math.max(...coldMs), warmMedianMs: median(warmMs), ...sizes };
  } finally {
    await browser.close();
    await server.stop();
  }
}

export async function runInventoryBench(workDir: string, options: { readonly runs: number; readonly files?: number }, log: (line: string) => void): Promise<InventoryBenchResult> {
  const files = options.files ?? INVENTORY_FILES;
  const dataDir = join(workDir, 'web-inventory');
  const started = performance.now();
  await writeInventoryFixture(dataDir, files);
  log(`web: inventory fixture of ${files} files written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const server = await startBenchServer({ CONSISTENCY_SCAN_INTERVAL_S: '0', TIERING_INTERVAL_S: '0' }, dataDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  try {
    const timed = async (path: string): Promise<{ ms: number; body: { items: unknown[]; next_cursor: string | null } }> => {
      const t0 = performance.now();
      const answer = await fetch(`http://127.0.0.1:${server.port}${path}`, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } });
      const text = await answer.text();
      const ms = performance.now() - t0;
      if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${text.slice(0, 300)}`);
      return { ms, body: JSON.parse(text) as { items: unknown[]; next_cursor: string | null } };
    };
    // A cursor deep into the listing (page 500 of 1000), to show a late page costs what the first does.
    let deep = '';
    {
      let cursor: string | null = null;
      for (let page = 0; page < 500; page += 1) {
        const got: { ms: number; body: { items: unknown[]; next_cursor: string | null } } = await timed(`/files?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        cursor = got.body.next_cursor;
        if (cursor === null) break;
        if (page === Math.floor(files / 1000 / 2) - 1) break;
      }
      deep = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    }
    const queries: Array<[string, string]> = [
      ['first page (key order)', '/files?limit=100'],
      ['a page halfway (cursor)', `/files?limit=100${deep}`],
      ['sorted by size, largest first', '/files?limit=100&sort=size&order=desc'],
      ['sorted by last change', '/files?limit=100&sort=updated_at&order=desc'],
      ['location=aws, state=verified', '/files?limit=100&location=aws&state=verified'],
      ['tier=cool', '/files?limit=100&tier=cool'],
      ['search q=report', '/files?limit=100&q=report'],
      ['search q=report, by size', '/files?limit=100&q=report&sort=size&order=desc'],
      ['search matching 1 file', '/files?limit=100&q=012340-report'],
    ];
    const api: Array<{ query: string; medianMs: number; maxMs: number; items: number }> = [];
    for (const [label, path] of queries) {
      await timed(path);
      const ms: number[] = [];
      let items = 0;
      for (let i = 0; i < options.runs; i += 1) {
        const got = await timed(path);
        ms.push(got.ms);
        items = got.body.items.length;
      }
      api.push({ query: label, medianMs: median(ms), maxMs: Math.max(...ms), items });
      log(`web: GET ${label}: median ${median(ms).toFixed(0)} ms (${items} items)`);
    }

    const url = `http://127.0.0.1:${server.port}/ui/inventory`;
    const firstRowsMs: number[] = [];
    const inAppMs: number[] = [];
    const filteredMs: number[] = [];
    const searchedMs: number[] = [];
    /** Time from `since` (page clock) to the next `inventory-rows-painted` mark after it. */
    const paintedAfter = async (page: Page, since: number): Promise<number> => {
      await page.waitForFunction((t) => performance.getEntriesByName('inventory-rows-painted').some((e) => e.startTime > t), since, { timeout: 30_000 });
      return page.evaluate((t) => performance.getEntriesByName('inventory-rows-painted').find((e) => e.startTime > t)!.startTime - t, since);
    };
    for (let run = 0; run < options.runs + 1; run += 1) {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      await context.addCookies([{ name: 'movingdata_session', value: BENCH_TOKEN, url: `http://127.0.0.1:${server.port}/`, httpOnly: true, sameSite: 'Strict' }]);
      const page = await context.newPage();
      // In the app: from the Overview, a click on Inventory in the navigation.
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.waitForFunction(() => performance.getEntriesByName('overview-data-painted').length > 0, undefined, { timeout: 30_000 });
      // From the click as the page receives it (Playwright's own checks before it are not the user's wait).
      await page.evaluate("document.addEventListener('click', () => performance.mark('inventory-clicked'), { capture: true, once: true })");
      await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Inventory' }).click();
      const clicked = await page.evaluate(() => performance.getEntriesByName('inventory-clicked')[0]!.startTime);
      const inApp = await paintedAfter(page, clicked);
      // Cold: the page's address opened in a new tab of the same browser (the shell boots first).
      await page.goto('about:blank');
      await page.goto(url);
      const first = await paintedAfter(page, 0);
      await page.locator('.inv-scroll [role="row"]').first().waitFor();
      let t0 = await page.evaluate(() => performance.now());
      await page.getByLabel('Tier', { exact: true }).selectOption('cool');
      const filtered = await paintedAfter(page, t0);
      t0 = await page.evaluate(() => performance.now());
      await page.getByLabel('Search keys').fill('report');
      const searched = await paintedAfter(page, t0 + 200);
      const rows = await page.locator('.inv-scroll [role="row"]').count();
      await context.close();
      if (run === 0) continue;
      firstRowsMs.push(first);
      inAppMs.push(inApp);
      filteredMs.push(filtered);
      searchedMs.push(searched + 200);
      log(`web: inventory run ${run}: click → first rows ${inApp.toFixed(0)} ms, address → first rows ${first.toFixed(0)} ms, tier filter ${filtered.toFixed(0)} ms, search ${(searched + 200).toFixed(0)} ms (${rows} rows in the DOM)`);
    }
    return { files, api, firstRowsMs, inAppMs, filteredMs, searchedMs };
  } finally {
    await browser.close();
    await server.stop();
  }
}

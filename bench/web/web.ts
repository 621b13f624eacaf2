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
 * No lab needed.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { ensureDashboardBuilt, DIST_DIR } from '../../web/scripts/build.ts';
import { BENCH_TOKEN, http, startBenchServer } from '../lib/server.ts';
import { median } from '../lib/stats.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const TARGET_TTI_MS = 1500;
export const TARGET_GZIP_KIB = 250;

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

/**
 * The dashboard on the lab: `movingdata serve --demo` on MinIO, Azurite, fake-gcs-server, Kafka
 * and PostgreSQL (its own schema, buckets and topics), in headless Chromium. Every page the
 * navigation offers loads: each of its panels leaves its loading state without an error, the
 * health panel shows the real dependencies, and no console error appears. Screenshots go to
 * test-results/screenshots/lab-<page>.png.
 *
 * The embedded-defaults run (dashboard.test.ts and the page tests) covers what each page does;
 * this one shows the same pages work against real servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDashboardBuilt } from '../../web/scripts/build.ts';
import { labEnv } from '../lab.ts';
import { BIN } from '../run.ts';
import { until } from '../until.ts';
const CHROMIUM = '/usr/bin/chromium';

const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
const inCi = process.env['CI'] === 'true';
const haveChromium = existsSync(CHROMIUM);

describe.runIf(haveChromium || inCi)('the dashboard on the lab (MinIO, Azurite, fake-gcs-server, Kafka, PostgreSQL)', () => {
  let dataDir: string;
  let server: ChildProcess | undefined;
  let serverClosed: Promise<unknown> | undefined;
  let stderr = '';
  let address: string;
  let link: string;
  let token: string;
  let browser: Browser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI=true and ${CHROMIUM} is missing (.ci/run installs it)`);
    await ensureDashboardBuilt({ log: () => undefined });
    await mkdir(SCREENSHOTS, { recursive: true });
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-web-lab-'));
    const tag = `web${randomBytes(3).toString('hex')}`;
    server = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0'], {
      env: {
        ...labEnv({ kafka: true }),
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        MOVINGDATA_DATA_DIR: dataDir,
        MOVINGDATA_LOG_LEVEL: 'warn',
        DATABASE_SCHEMA: `${tag}_${process.pid}`,
        S3_BUCKET: `movingdata-${tag}`,
        AZURE_CONTAINER: `movingdata-${tag}`,
        GCS_BUCKET: `movingdata-${tag}`,
        TOPIC_ACCESS: `access-events-${tag}`,
        TOPIC_SENSOR: `sensor-stream-${tag}`,
        CONSISTENCY_SCAN_INTERVAL_S: '0',
        TIERING_INTERVAL_S: '0',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    serverClosed = new Promise((resolve) => server!.once('close', resolve));
    server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const banner = await until('the sign-in link in the banner', async () => /Dashboard \(this link signs you in\): ((http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+))/.exec(stderr) ?? undefined, 90_000, 100).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${stderr}`);
    });
    [, link, address, token] = banner as unknown as [string, string, string, string];
    const seeded = await fetch(`${address}/seed`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(seeded.status, await seeded.clone().text()).toBe(200);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${message.text()} (${page.url()})`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    await serverClosed;
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  /** Every panel of the page has answered (none busy, none loading), and none with an error. */
  const settled = async (name: string): Promise<void> => {
    await page.getByRole('heading', { level: 1, name }).waitFor();
    await expect
      .poll(async () => page.locator('main [aria-busy="true"], main .skeleton').count(), { timeout: 30_000, message: `${name}: panels still loading` })
      .toBe(0);
    const problems = await page.locator('main .problem').allTextContents();
    expect(problems, `${name}: panels with errors`).toEqual([]);
  };

  it('signs in and shows the real dependencies healthy', async () => {
    await page.goto(link);
    await settled('Overview');
    const health = page.getByRole('region', { name: 'Health' });
    for (const dependency of ['metadata', 'aws', 'azure', 'gcp', 'events']) {
      await expect.poll(() => health.getByRole('row', { name: new RegExp(`^${dependency}\\b`) }).textContent(), { timeout: 30_000 }).toContain('ok');
    }
    // The lab's servers, not the embedded defaults: PostgreSQL and Kafka by name.
    await expect.poll(() => health.textContent()).toMatch(/postgres/i);
    await expect.poll(() => health.textContent()).toMatch(/kafka/i);
    await page.screenshot({ path: join(SCREENSHOTS, 'lab-overview.png'), fullPage: true });
  });

  it('loads every page the navigation offers, without an error or a console error', async () => {
    const nav = page.getByRole('navigation', { name: 'Pages' });
    const names = (await nav.getByRole('link').allTextContents()).map((n) => n.trim());
    expect(names.length).toBeGreaterThanOrEqual(6);
    for (const name of names) {
      await nav.getByRole('link', { name, exact: true }).click();
      await settled(name);
      await page.screenshot({ path: join(SCREENSHOTS, `lab-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.png`), fullPage: true });
    }
    expect(consoleErrors).toEqual([]);
  });
});

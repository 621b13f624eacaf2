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
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labEnv } from '../lab.ts';
import { collectConsoleErrors, haveChromium, inCi, launchChromium, screenshot, startDemoServer, type DemoServer } from './harness.ts';

describe.runIf(haveChromium || inCi)('the dashboard on the lab (MinIO, Azurite, fake-gcs-server, Kafka, PostgreSQL)', () => {
  let server: DemoServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    const tag = `web${randomBytes(3).toString('hex')}`;
    server = await startDemoServer({
      ...labEnv({ kafka: true }),
      DATABASE_SCHEMA: `${tag}_${process.pid}`,
      S3_BUCKET: `movingdata-${tag}`,
      AZURE_CONTAINER: `movingdata-${tag}`,
      GCS_BUCKET: `movingdata-${tag}`,
      TOPIC_ACCESS: `access-events-${tag}`,
      TOPIC_SENSOR: `sensor-stream-${tag}`,
      TIERING_INTERVAL_S: '0',
    });
    await server.api('POST', '/seed');
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    collectConsoleErrors(page, consoleErrors);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
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
    await page.goto(server!.link);
    await settled('Overview');
    const health = page.getByRole('region', { name: 'Health' });
    for (const dependency of ['metadata', 'aws', 'azure', 'gcp', 'events']) {
      await expect.poll(() => health.getByRole('row', { name: new RegExp(`^${dependency}\\b`) }).textContent(), { timeout: 30_000 }).toContain('ok');
    }
    // The lab's servers, not the embedded defaults: PostgreSQL and Kafka by name.
    await expect.poll(() => health.textContent()).toMatch(/postgres/i);
    await expect.poll(() => health.textContent()).toMatch(/kafka/i);
    await screenshot(page, 'lab-overview');
  });

  it('loads every page the navigation offers, without an error or a console error', async () => {
    const nav = page.getByRole('navigation', { name: 'Pages' });
    const names = (await nav.getByRole('link').allTextContents()).map((n) => n.trim());
    expect(names.length).toBeGreaterThanOrEqual(6);
    for (const name of names) {
      await nav.getByRole('link', { name, exact: true }).click();
      await settled(name);
      await screenshot(page, `lab-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`);
    }
    expect(consoleErrors).toEqual([]);
  });
});

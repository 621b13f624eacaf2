/**
 * The dashboard in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against a real `movingdata serve --demo` on embedded defaults. It signs in
 * through the banner's `/?token=` link, finds health and the seeded files on the Overview,
 * acknowledges an alert, visits every page, signs out and in again, and sees no console error.
 * A screenshot of every page goes to test-results/screenshots/ (git-ignored) on each run.
 *
 * Without /usr/bin/chromium the tests are skipped locally, with a message; in CI (CI=true) they
 * fail instead: .ci/run installs it.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../until.ts';
import { CHROMIUM, collectConsoleErrors, haveChromium, inCi, launchChromium, screenshot, startDemoServer, type DemoServer } from './harness.ts';

if (!haveChromium && !inCi) console.warn(`test/web/dashboard.test.ts: SKIPPED, no ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);

describe.runIf(haveChromium || inCi)('the dashboard in headless Chromium', () => {
  let server: DemoServer | undefined;
  let address: string;
  let link: string;
  let token: string;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  const api = <T>(method: string, path: string, body?: unknown): Promise<T> => server!.api<T>(method, path, body);
  const shoot = (name: string, target: Page = page) => screenshot(target, name);

  beforeAll(async () => {
    // The demo's own start: a generated admin token, announced with the sign-in link.
    server = await startDemoServer();
    ({ address, link, token } = server);

    await api('POST', '/seed');
    await api('POST', '/consistency/scan', { wait: true });
    // A burst's injected anomalies raise an alert to acknowledge.
    await api('POST', '/simulate/burst', { events: 250 });
    await until('an open alert', async () => ((await api<{ alerts: unknown[] }>('GET', '/alerts?state=open')).alerts.length > 0 ? true : undefined), 30_000, 200);

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    collectConsoleErrors(page, consoleErrors);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in through the ?token= link: the token leaves the address bar, the cookie stays out of reach of scripts', async () => {
    const response = await page.goto(link);
    expect(response?.status()).toBe(200);
    expect(page.url()).toBe(`${address}/`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await expect.poll(() => page.evaluate<string>('document.cookie')).toBe('');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'movingdata_session', httpOnly: true, sameSite: 'Strict', path: '/' });
    await expect.poll(() => page.getByText('Signed in as').textContent()).toContain('admin');
  });

  it('shows every dependency healthy, the seeded files per location, drift, open alerts and the live feed', async () => {
    await page.waitForFunction(() => performance.getEntriesByName('overview-data-painted').length > 0, undefined, { timeout: 15_000 });
    const health = page.getByRole('region', { name: 'Health' });
    for (const dependency of ['metadata', 'aws', 'azure', 'gcp', 'events']) {
      const row = health.getByRole('row', { name: new RegExp(`^${dependency}\\b`) });
      await expect.poll(() => row.textContent()).toContain('ok');
    }
    await expect.poll(() => health.getByRole('heading').locator('xpath=..').textContent()).toContain('ok');

    const inventory = await api<{ locations: Array<{ location: string; objects: number }> }>('GET', '/inventory');
    const storage = page.getByRole('region', { name: 'Storage by location' });
    for (const l of inventory.locations) {
      expect(l.objects).toBeGreaterThan(0);
      await expect.poll(() => storage.getByRole('row', { name: new RegExp(`^${l.location}\\b`) }).getByRole('cell').first().textContent()).toBe(String(l.objects));
    }
    // Per tier, and what it costs: the seeded copies are all in the default (hot) class.
    await expect.poll(() => storage.getByRole('row', { name: /^aws\b/ }).textContent()).toMatch(/\d+ (hot|default)/);
    const costs = await api<{ total: { monthly_cost: number } }>('GET', '/tiering/costs');
    expect(costs.total.monthly_cost).toBeGreaterThan(0);
    const cost = page.getByRole('region', { name: 'Monthly cost' });
    await expect.poll(() => cost.textContent(), { timeout: 15_000 }).toContain('a month now');
    for (const l of inventory.locations) await expect.poll(() => cost.getByRole('row', { name: new RegExp(`^${l.location}\\b`) }).textContent()).toMatch(/\$/);
    await expect.poll(() => page.getByRole('region', { name: 'Drift' }).textContent()).toContain('of drift');
    await expect.poll(() => page.getByRole('region', { name: 'Open alerts' }).textContent()).toMatch(/anomaly|outbox|latency/);
    const live = page.getByRole('region', { name: 'Live throughput' });
    await live.locator('canvas').first().waitFor({ timeout: 15_000 });
    await expect.poll(() => live.textContent(), { timeout: 15_000 }).toContain('live');
    // A 3 MiB write and its read back move the MiB/s in and out (writes in, completed reads out).
    const blob = Buffer.alloc(3 * 1024 * 1024, 7);
    const put = await fetch(`${address}/files/aws/overview/throughput.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: blob });
    expect(put.status).toBe(201);
    expect((await (await fetch(`${address}/files/aws/overview/throughput.bin`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer()).byteLength).toBe(blob.length);
    const figure = (label: string) => live.locator('.figure', { hasText: label }).locator('.figure-value').textContent();
    await expect.poll(async () => Number((await figure('MiB/s in'))?.replace('<', '')), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect.poll(async () => Number((await figure('MiB/s out'))?.replace('<', '')), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await live.locator('canvas').count()).toBeGreaterThanOrEqual(2);
    // Let the chart gather a few seconds of the synthetic load before the picture.
    await page.waitForTimeout(4000);
    await shoot('overview');
  });

  it('acknowledges an open alert on the Alerts page, with the CSRF token', async () => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Alerts' }).click();
    expect(page.url()).toBe(`${address}/ui/alerts`);
    await page.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
    const button = page.getByRole('button', { name: /^Acknowledge / }).first();
    await button.waitFor();
    const label = (await button.getAttribute('aria-label'))!;
    await shoot('alerts');
    await button.click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/^Acknowledged /);
    const subject = /^Acknowledge (\S+) alert on (.+)$/.exec(label)!;
    const acked = await api<{ alerts: Array<{ kind: string; subject: string; acked_by: string | null }> }>('GET', '/alerts?state=acknowledged');
    expect(acked.alerts.some((a) => a.kind === subject[1] && a.subject === subject[2] && a.acked_by === 'admin')).toBe(true);
    await page.getByLabel('Acknowledged').check();
    await expect.poll(() => page.getByRole('region', { name: /alerts/ }).textContent()).toContain('by admin');
    await shoot('alerts-acknowledged');
  });

  it('visits every page; a reload on a page route keeps the page and the session', async () => {
    // What each page shows once it is there (each has its own test: test/web/inventory.test.ts, operations.test.ts).
    for (const [name, path, shows] of [
      ['Inventory', '/ui/inventory', 'Drop a file here'],
      ['Replication', '/ui/replication', 'items of drift'],
      ['Tiering', '/ui/policies', 'Recommendations'],
      ['Streams', '/ui/streams', 'Live events per second'],
      ['Audit', '/ui/audit', 'Hash chain'],
    ] as const) {
      await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
      expect(page.url()).toBe(`${address}${path}`);
      expect(await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name, exact: true }).getAttribute('aria-current')).toBe('page');
      await expect.poll(() => page.locator('main').textContent()).toContain(shows);
      await shoot(path.slice(4));
    }
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Streams' }).waitFor();
    await page.goto(`${address}/ui/no-such-page`);
    await page.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
  });

  it('fits a phone screen and starts the keyboard at the skip link', async () => {
    const phone = await context.newPage();
    collectConsoleErrors(phone, consoleErrors, 'phone ');
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${address}/`);
    await phone.waitForFunction(() => performance.getEntriesByName('overview-data-painted').length > 0, undefined, { timeout: 15_000 });
    await phone.waitForTimeout(1500);
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await phone.keyboard.press('Tab');
    expect(await phone.evaluate<string | undefined>('document.activeElement?.textContent')).toBe('Skip to content');
    await shoot('overview-phone', phone);
    await phone.close();
  });

  it('signs out, and in again with a token in the form; no console error all along', async () => {
    await page.goto(`${address}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await context.cookies()).toEqual([]);
    await shoot('sign-in');
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.waitForFunction(() => performance.getEntriesByName('overview-data-painted').length > 0, undefined, { timeout: 15_000 });
    expect(consoleErrors).toEqual([]);
  });

  it('says so when the token in the form is not valid', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').fill('mdt_nobody-holds-this-token-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
    await shoot('sign-in-refused');
  });
});

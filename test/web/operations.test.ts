/**
 * The operations pages in a real browser: headless Chromium (/usr/bin/chromium, driven by
 * playwright-core) against a real `movingdata serve --demo` on embedded defaults, signed in
 * through the banner's `/?token=` link (as test/web/dashboard.test.ts does).
 *
 * - Replication: drift made behind the server's back (stored object files deleted on the
 *   local-disk locations), "Scan now" finds it and queues repairs, the workers repair, a second
 *   scan finds none: the page's drift goes back to 0.
 * - Streams: the burst button; the live chart's data change and an anomaly alert appears.
 * - Tiering: recommendations, the policy comparison; "Train the model" shows its metrics.
 * - Audit: the chain verifies; the export link downloads JSON lines that parse.
 * - The navigation offers only what the roles allow; the pages fit a phone; no console error.
 *
 * Screenshots go to test-results/screenshots/ (git-ignored). Without /usr/bin/chromium the
 * tests are skipped locally, with a message; in CI (CI=true) they fail instead.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../until.ts';
import { CHROMIUM, collectConsoleErrors, haveChromium, inCi, launchChromium, screenshot, startDemoServer, type DemoServer } from './harness.ts';

if (!haveChromium && !inCi) console.warn(`test/web/operations.test.ts: SKIPPED, no ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);

/** Every object file of a local-disk location (objects/<h[0..2]>/<h>). */
async function objectFiles(dataDir: string, location: string): Promise<string[]> {
  const root = join(dataDir, 'locations', location);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && /[/\\]objects[/\\][0-9a-f]{2}$/.test(e.parentPath) && /^[0-9a-f]{64}$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

describe.runIf(haveChromium || inCi)('the operations pages in headless Chromium', () => {
  let server: DemoServer | undefined;
  let dataDir: string;
  let address: string;
  let token: string;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  const api = <T>(method: string, path: string, body?: unknown, as?: string): Promise<T> => server!.api<T>(method, path, body, as);
  const shoot = (name: string, target: Page = page) => screenshot(target, name);
  const open = async (name: string, path: string) => {
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
    expect(page.url()).toBe(`${address}${path}`);
  };

  beforeAll(async () => {
    server = await startDemoServer({ MOVINGDATA_JOB_POLL_MS: '100' });
    ({ dataDir, address, token } = server);

    await api('POST', '/seed');
    await api('POST', '/consistency/scan', { wait: true });

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    collectConsoleErrors(page, consoleErrors);
    await page.goto(server.link);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('Replication: drift made behind the server\'s back is found by "Scan now", repaired, and gone at the next scan', async () => {
    await open('Replication', '/ui/replication');
    const drift = page.getByRole('region', { name: 'Drift', exact: true });
    await expect.poll(() => drift.getByTestId('drift-total').textContent(), { timeout: 15_000 }).toBe('0');

    // Two files at all three locations (the seed puts each file at one), then a copy of each
    // vanishes from a disk (the first's at aws, the second's at gcp): the metadata still says
    // they are there, and each file keeps two intact copies to be repaired from.
    const before = { aws: await objectFiles(dataDir, 'aws'), gcp: await objectFiles(dataDir, 'gcp') };
    const upload = async (key: string): Promise<{ aws: string; gcp: string }> => {
      const put = await fetch(`${address}/files/aws/${key}?replicas=azure,gcp`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: Buffer.alloc(50_000, key.length) });
      expect(put.status).toBe(201);
      const added = async (location: 'aws' | 'gcp') => {
        const now = await objectFiles(dataDir, location);
        const fresh = now.filter((f) => !before[location].includes(f));
        before[location] = now;
        expect(fresh).toHaveLength(1);
        return fresh[0]!;
      };
      return { aws: await added('aws'), gcp: await added('gcp') };
    };
    const first = await upload('ops/drift-probe-1.bin');
    const second = await upload('ops/drift-probe-2.bin');
    const stored = { aws: before.aws.length, gcp: before.gcp.length };
    await rm(first.aws);
    await rm(second.gcp);

    await page.getByRole('button', { name: 'Scan now' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 60_000 }).toMatch(/^Scan finished: 2 items of drift, 2 repairs queued\.$/);
    await expect.poll(() => drift.getByTestId('drift-total').textContent(), { timeout: 15_000 }).toBe('2');
    expect(await drift.textContent()).toMatch(/missing\s*2/);
    const locations = page.getByRole('region', { name: 'Drift per location' });
    for (const l of ['aws', 'gcp']) expect(await locations.getByRole('row', { name: new RegExp(`^${l}\\b`) }).textContent()).toContain('1 missing');
    await shoot('replication-drift');

    // The workers repair both copies from the other locations' verified ones.
    let repairs: Array<{ state: string; attempts: number; last_error: string | null }> = [];
    await until('the repairs to succeed', async () => {
      repairs = (await api<{ jobs: typeof repairs }>('GET', '/jobs?kind=repair')).jobs;
      return repairs.length === 2 && repairs.every((j) => j.state === 'succeeded') ? true : undefined;
    }, 90_000, 200).catch((err: unknown) => {
      throw new Error(`${String(err)}; the repair jobs: ${JSON.stringify(repairs)}`);
    });
    // A copy again at each location (a restored copy is a new object, under a name of its own).
    expect((await objectFiles(dataDir, 'aws')).length).toBe(stored.aws);
    expect((await objectFiles(dataDir, 'gcp')).length).toBe(stored.gcp);
    // The job tables show them too (the page refreshes every few seconds).
    await expect.poll(() => page.getByRole('region', { name: 'Jobs by kind and state' }).getByRole('row', { name: /^repair\b/ }).textContent(), { timeout: 15_000 }).toMatch(/^repair0000200$/);
    await expect.poll(() => page.getByRole('region', { name: 'Recent jobs' }).textContent(), { timeout: 15_000 }).toContain('repair #');

    await page.getByRole('button', { name: 'Scan now' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 60_000 }).toMatch(/^Scan finished: 0 items of drift, 0 repairs queued\.$/);
    await expect.poll(() => drift.getByTestId('drift-total').textContent(), { timeout: 15_000 }).toBe('0');
    for (const l of ['aws', 'azure', 'gcp']) expect(await locations.getByRole('row', { name: new RegExp(`^${l}\\b`) }).textContent()).toContain('ok');
    expect(await page.getByRole('region', { name: 'Retries and dead letters' }).textContent()).toContain('No dead jobs');
    await shoot('replication-repaired');
  }, 180_000);

  it('Streams: the burst button moves the live chart and raises an anomaly alert', async () => {
    await open('Streams', '/ui/streams');
    const live = page.getByRole('region', { name: 'Live events per second' });
    await live.locator('canvas').first().waitFor({ timeout: 15_000 });
    await expect.poll(() => live.textContent(), { timeout: 15_000 }).toContain('live');
    await expect.poll(() => page.getByRole('region', { name: 'Bus health' }).textContent(), { timeout: 15_000 }).toMatch(/Producer\s*ok/);
    const windowTotal = async () => Number(await page.getByTestId('live-window').getAttribute('data-window-total'));
    const canvas = () => live.locator('canvas').first().evaluate((c) => (c as unknown as { toDataURL(): string }).toDataURL());
    const totalBefore = await windowTotal();
    const pixelsBefore = await canvas();

    await page.getByRole('button', { name: 'Send a burst' }).click();
    const notice = await until('the burst to be sent', async () => {
      const text = (await page.getByRole('status').textContent()) ?? '';
      return text.startsWith('Burst sent') ? text : undefined;
    }, 30_000, 100);
    const injected = /anomalies injected on ([^.]+)\./.exec(notice)?.[1]?.split(', ') ?? [];
    expect(injected.length, notice).toBeGreaterThan(0);

    // The burst's events reach the live feed: the window's count and the drawn chart change.
    await expect.poll(windowTotal, { timeout: 20_000 }).toBeGreaterThanOrEqual(totalBefore + 100);
    expect(await canvas()).not.toBe(pixelsBefore);
    // An anomaly alert for a device the burst injected anomalies on.
    const alerts = page.getByRole('region', { name: 'Anomaly alerts' });
    await expect.poll(async () => {
      const text = (await alerts.textContent()) ?? '';
      return injected.some((d) => text.includes(d));
    }, { timeout: 30_000 }).toBe(true);
    // The sensors' charts show flagged points; the peek table flags readings.
    const sensors = page.getByRole('region', { name: 'Sensors' });
    await expect.poll(async () => {
      const counts = await sensors.locator('[data-flagged]').evaluateAll((els) => els.map((e) => Number((e as unknown as { getAttribute(name: string): string | null }).getAttribute('data-flagged'))));
      return counts.some((n) => n > 0);
    }, { timeout: 20_000 }).toBe(true);
    expect(await sensors.locator('canvas').count()).toBeGreaterThan(0);
    await expect.poll(() => page.getByRole('region', { name: 'Events and devices' }).getByTestId('active-devices').textContent(), { timeout: 10_000 }).not.toBe('0');
    await page.waitForTimeout(1500);
    await shoot('streams');

    // The same alert on the Alerts page.
    await open('Alerts', '/ui/alerts');
    await expect.poll(async () => {
      const text = (await page.locator('main').textContent()) ?? '';
      return text.includes('anomaly') && injected.some((d) => text.includes(d));
    }, { timeout: 15_000 }).toBe(true);
  });

  it('Tiering: recommendations with reasons, the policy comparison, and "Train the model" shows its metrics', async () => {
    await open('Tiering', '/ui/policies');
    await page.getByLabel('Only recommendations that change something').uncheck();
    const recommendations = page.getByRole('region', { name: 'Recommendations' });
    await expect.poll(() => recommendations.getByRole('row').count(), { timeout: 20_000 }).toBeGreaterThan(1);
    expect(await recommendations.textContent()).toMatch(/file_0\d\d\.txt/);
    await recommendations.locator('summary').first().click();
    await expect.poll(() => recommendations.locator('.ops-reasons li').count()).toBeGreaterThan(0);

    const policies = page.getByRole('region', { name: 'Policy comparison' });
    await expect.poll(() => policies.getByRole('row').count(), { timeout: 30_000 }).toBe(7);
    for (const label of ['Ours: model + rules', 'Ours: rules alone', 'Always hot', 'Lifecycle 30/90 days', 'S3 Intelligent-Tiering', 'Offline optimum (hindsight)']) {
      await expect.poll(() => policies.getByRole('row', { name: new RegExp(`^${label.replace(/[()+]/g, '\\$&')}`) }).count()).toBe(1);
    }
    expect(await policies.textContent()).toContain('cheapest');
    const comparison = await api<{ policies: Array<{ name: string; total: number }> }>('GET', '/tiering/policies');
    const optimum = comparison.policies.find((p) => p.name === 'optimum')!.total;
    expect(comparison.policies.every((p) => p.total >= optimum * (1 - 1e-9))).toBe(true);

    const model = page.getByRole('region', { name: 'Model' });
    await expect.poll(() => model.textContent(), { timeout: 15_000 }).toContain('default');
    expect(await model.getByTestId('model-accuracy').textContent()).toBe('—');
    await page.getByRole('button', { name: 'Train the model' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 60_000 }).toMatch(/^Trained model version 1 \(\w+\) on [\d,]+ records: held-out accuracy \d+\.\d %\.$/);
    await expect.poll(() => model.getByTestId('model-accuracy').textContent(), { timeout: 15_000 }).toMatch(/^\d+\.\d %$/);
    await expect.poll(() => model.textContent()).toContain('v1');
    const served = await api<{ source: string; version: number; metrics: { accuracy: number } }>('GET', '/predictive/model');
    expect(served).toMatchObject({ source: 'trained', version: 1 });
    expect(await model.getByTestId('model-accuracy').textContent()).toBe(`${(served.metrics.accuracy * 100).toFixed(1)} %`);
    // The comparison is recomputed with the new model.
    await expect.poll(() => policies.textContent(), { timeout: 30_000 }).toContain('model v1');

    await page.getByRole('button', { name: 'Dry run now' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 30_000 }).toMatch(/^Dry run \S+: \d+ copies considered/);
    await shoot('tiering');
  });

  it('Audit: verifies the chain, and the export link downloads JSON lines that parse', async () => {
    await open('Audit', '/ui/audit');
    const chain = page.getByRole('region', { name: 'Hash chain' });
    await expect.poll(() => chain.textContent(), { timeout: 15_000 }).toContain('Not verified yet');
    const verified = await api<{ ok: boolean; entries: number }>('GET', '/audit/verify');
    expect(verified.ok).toBe(true);
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await expect.poll(() => chain.textContent()).toMatch(/Intact\s*[\d,]+ entries checked/);
    // The page's figure is the API's (at least as many: the trail only grows).
    expect(Number((await chain.getByRole('status').textContent())!.replace(/\D+/g, ''))).toBeGreaterThanOrEqual(verified.entries);
    expect(await chain.getByText('ok', { exact: true }).count()).toBe(1);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the audit trail (NDJSON)' }).click()]);
    expect(download.suggestedFilename()).toBe('movingdata-audit.ndjson');
    const text = await readFile(await download.path(), 'utf8');
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(verified.entries);
    const entries = lines.map((l) => JSON.parse(l) as { seq: number; action: string; hash: string; prev_hash: string });
    entries.forEach((e, i) => {
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      if (i > 0) {
        expect(e.seq).toBe(entries[i - 1]!.seq + 1);
        expect(e.prev_hash).toBe(entries[i - 1]!.hash);
      }
    });
    // The export is recorded: the next verify has one more entry than before the download.
    await expect.poll(async () => (await api<{ entries: number }>('GET', '/audit/verify')).entries).toBeGreaterThan(verified.entries);
    // The export records itself before its first line leaves: it is in the file.
    expect(entries.filter((e) => e.action === 'audit_export')).toHaveLength(1);

    await page.getByLabel('After entry (optional)').fill('5');
    expect(await page.getByRole('link', { name: 'Download the audit trail (NDJSON)' }).getAttribute('href')).toBe('/audit/export?after_seq=5');
    await shoot('audit');
  });

  it('offers the operations pages only to the roles that allow them', async () => {
    const analyst = await api<{ token: string }>('POST', '/tokens', { name: 'ana', roles: ['analytics'] });
    const other = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await other.newPage();
    tab.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${message.text()} (analyst)`);
    });
    await tab.goto(`${address}/`);
    await tab.getByLabel('API token').fill(analyst.token);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const nav = tab.getByRole('navigation', { name: 'Pages' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Overview', 'Inventory', 'Tiering']);
    // A direct visit says why instead of failing.
    for (const [path, heading, why] of [
      ['/ui/replication', 'Replication', 'need the admin, operations or system role'],
      ['/ui/streams', 'Streams', 'need the admin, operations or system role'],
      ['/ui/audit', 'Audit', 'needs the admin or system role'],
    ] as const) {
      await tab.goto(`${address}${path}`);
      await tab.getByRole('heading', { level: 1, name: heading }).waitFor();
      expect(await tab.locator('main').textContent()).toContain(why);
    }
    // Tiering: recommendations for its own location, no operators' panels or buttons.
    await tab.goto(`${address}/ui/policies`);
    await tab.getByRole('heading', { level: 1, name: 'Tiering' }).waitFor();
    await tab.getByRole('region', { name: 'Recommendations' }).waitFor();
    expect(await tab.getByRole('button', { name: 'Train the model' }).count()).toBe(0);
    expect(await tab.getByRole('region', { name: 'Policy comparison' }).count()).toBe(0);
    await shoot('tiering-analyst', tab);
    await other.close();
  });

  it('fits a phone screen on every operations page, and logged no console error', async () => {
    const phone = await context.newPage();
    phone.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${message.text()} (phone)`);
    });
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const [path, heading] of [
      ['/ui/replication', 'Replication'],
      ['/ui/policies', 'Tiering'],
      ['/ui/streams', 'Streams'],
      ['/ui/audit', 'Audit'],
    ] as const) {
      await phone.goto(`${address}${path}`);
      await phone.getByRole('heading', { level: 1, name: heading }).waitFor();
      await phone.waitForTimeout(2500);
      expect(await phone.evaluate<number>('document.documentElement.scrollWidth'), path).toBeLessThanOrEqual(390);
      await shoot(`${path.slice(4)}-phone`, phone);
    }
    await phone.close();
    expect(consoleErrors).toEqual([]);
  });
});

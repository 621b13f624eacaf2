/**
 * What the browser tests share: a real `movingdata serve --demo` on embedded defaults (its own
 * data directory, port 0, the banner's sign-in link read from its log) and headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core) collecting console errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureDashboardBuilt } from '../../web/scripts/build.ts';
import { BIN } from '../run.ts';
import { until } from '../until.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
export const inCi = process.env['CI'] === 'true';
export const haveChromium = existsSync(CHROMIUM);

export interface DemoServer {
  /** Its data directory (MOVINGDATA_DATA_DIR), removed by stop(). */
  readonly dataDir: string;
  /** http://127.0.0.1:<port> */
  readonly address: string;
  /** The banner's `/?token=` sign-in link. */
  readonly link: string;
  /** The generated admin token. */
  readonly token: string;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  /** A JSON call with a bearer token (the admin's by default); fails the test unless it answers 2xx. */
  api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T>;
  stop(): Promise<void>;
}

/** Starts `movingdata serve --demo` on its own data directory (`prepare`d first) and waits for its banner. */
export async function startDemoServer(env: Readonly<Record<string, string>> = {}, options: { readonly prepare?: (dataDir: string) => Promise<void> } = {}): Promise<DemoServer> {
  await ensureDashboardBuilt({ log: () => undefined });
  const dataDir = await mkdtemp(join(tmpdir(), 'movingdata-web-'));
  // What the server should find in its data directory when it starts (a bulk fixture).
  await options.prepare?.(dataDir);
  const server: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0'], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_LOG_LEVEL: 'warn', CONSISTENCY_SCAN_INTERVAL_S: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const closed = new Promise((resolve) => server.once('close', resolve));
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async () => {
    server.kill('SIGTERM');
    await closed;
    await rm(dataDir, { recursive: true, force: true });
  };
  let banner: RegExpExecArray;
  try {
    banner = await until('the sign-in link in the banner', async () => /Dashboard \(this link signs you in\): ((http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+))/.exec(stderr) ?? undefined, 60_000, 100);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; the server said: ${stderr.slice(-2000)}`, { cause: err });
  }
  const [, link, address, token] = banner as unknown as [string, string, string, string];
  return {
    dataDir,
    address,
    link,
    token,
    stderr: () => stderr,
    async api<T>(method: string, path: string, body?: unknown, as = token): Promise<T> {
      const response = await fetch(`${address}${path}`, {
        method,
        headers: { authorization: `Bearer ${as}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 500)}`);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
    stop,
  };
}

export async function launchChromium(): Promise<Browser> {
  if (!haveChromium) throw new Error(`CI=true and ${CHROMIUM} is missing: the browser tests must run in CI (.ci/run installs it: apt-get install -y chromium)`);
  await mkdir(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** Records the page's console errors and uncaught exceptions into `into`. */
export function collectConsoleErrors(page: Page, into: string[], label = ''): void {
  page.on('console', (message) => {
    if (message.type() === 'error') into.push(`${message.text()} (${label}${page.url()})`);
  });
  page.on('pageerror', (error) => into.push(`page error: ${error.message} (${label})`));
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

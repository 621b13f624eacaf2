/**
 * A `movingdata serve` process for tests that kill servers (SIGKILL, by themselves through the
 * MOVINGDATA_CRASH_AFTER hook or from the test) and start them again on the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { BIN } from './run.ts';

export const CRASH_ADMIN = 'demo-admin-token-for-the-crash-tests';

export interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Start a demo-mode server on an ephemeral port; resolves once it listens. */
export async function startServer(dataDir: string, extra: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      MOVINGDATA_DATA_DIR: dataDir,
      MOVINGDATA_ADMIN_TOKEN: CRASH_ADMIN,
      // Short, so a killed server's jobs come back soon; not so short that a heartbeat late on a
      // loaded machine (CI runs Chromium beside these) lets a live worker's job be claimed again.
      MOVINGDATA_JOB_LEASE_MS: '2500',
      MOVINGDATA_JOB_POLL_MS: '50',
      MOVINGDATA_RETRY_BASE_MS: '100',
      CONSISTENCY_SCAN_INTERVAL_S: '0',
      TIERING_INTERVAL_S: '0',
      ENABLE_SYNTHETIC_LOAD: '0',
      // These servers are killed to test the data path; the event relay and consumers would
      // only compete for the embedded store's one connection (and the jobs' short leases).
      MOVINGDATA_CONSUMERS: '0',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const found = /MovingData listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      if (found !== undefined) resolve(found);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exit.then(() => reject(new Error(`server exited before listening:\n${output}`)));
    setTimeout(() => reject(new Error(`server did not listen within 30 s:\n${output}`)), 30_000).unref();
  });
  return { child, url, exit, output: () => output };
}

/** A request as the admin: a Buffer is the body as is, an object is sent as JSON. */
export async function call(server: Server, method: string, path: string, body?: Buffer | object): Promise<Response> {
  const json = body !== undefined && !Buffer.isBuffer(body);
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${CRASH_ADMIN}`, ...(json ? { 'content-type': 'application/json' } : {}) },
    ...(body === undefined ? {} : { body: json ? JSON.stringify(body) : new Uint8Array(body) }),
  });
}

/**
 * Data directories and servers of one describe block, killed and removed after it: for tests
 * that kill servers and start them again.
 */
export function crashSandbox(): { dir(prefix: string): Promise<string>; start(dataDir: string, extra?: Record<string, string>): Promise<Server> } {
  const dirs: string[] = [];
  const running: Server[] = [];
  afterAll(async () => {
    for (const server of running) server.child.kill('SIGKILL');
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  return {
    async dir(prefix) {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async start(dataDir, extra = {}) {
      const server = await startServer(dataDir, extra);
      running.push(server);
      return server;
    },
  };
}

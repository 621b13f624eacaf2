/**
 * The real server (`movingdata serve --demo`) in its own process for a benchmark, with the flags
 * of bin/movingdata.js, on a free loopback port, once /health answers; plus a bare HTTP call
 * with the bench's admin token.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NODE_FLAGS } from './process.ts';

const MAIN = join(import.meta.dirname, '../../bin/movingdata.js');
export const BENCH_TOKEN = 'bench-admin-token-0123456789abcdef';

export interface BenchServer {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function http(method: string, port: number, path: string, body?: Readable): Promise<{ status: number; bytes: number; sha256: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { authorization: `Bearer ${BENCH_TOKEN}` } }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let text = '';
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
        if (text.length < 4096) text += chunk.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex'), text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

/** `movingdata serve --demo` over `dataDir` with `env` (and extra Node flags, e.g. --cpu-prof). */
export async function startBenchServer(env: Readonly<Record<string, string>>, dataDir: string, extraNodeFlags: readonly string[] = []): Promise<BenchServer> {
  const port = await freePort();
  const server = spawn(process.execPath, [...NODE_FLAGS, ...extraNodeFlags, MAIN, 'serve', '--demo', '--port', String(port)], {
    env: { ...process.env, ...env, MOVINGDATA_DATA_DIR: dataDir, MOVINGDATA_ADMIN_TOKEN: BENCH_TOKEN, MOVINGDATA_LOG_LEVEL: 'warn', ENABLE_SYNTHETIC_LOAD: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  server.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const closed = new Promise((resolve) => server.once('close', resolve));
    server.kill('SIGTERM');
    await closed;
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const health = await http('GET', port, '/health').catch(() => undefined);
      if (health?.status === 200) break;
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start: ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: server.pid!, port, stop };
}

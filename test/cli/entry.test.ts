/**
 * bin/movingdata.js turns Node's compile cache on before any TypeScript is read, so that a warm
 * start takes every module from the cache and never loads Node's type stripper (amaro, a
 * WebAssembly module that stays resident once loaded). Checked on real processes: the first run
 * in a fresh cache directory strips (amaro loaded), the second does not.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/movingdata.js');
// Reports, as the process exits, whether Node loaded its TypeScript stripper.
const PROBE = 'data:text/javascript,process.on("exit",()=>process.stderr.write("amaro="+process.moduleLoadList.some((m)=>m.includes("amaro"))+"\\n"))';

let cacheDir: string;

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'movingdata-compile-cache-'));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

function help(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', PROBE, BIN, '--help'], {
    // No NODE_COMPILE_CACHE: the cache is the one the entry turns on, under the temp directory.
    env: { PATH: process.env['PATH'] ?? '', TMPDIR: cacheDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

it('strips TypeScript on a cold start only: a warm start runs from the compile cache', async () => {
  const cold = await help();
  expect(cold.code).toBe(0);
  expect(cold.stdout).toContain('usage: movingdata <command>');
  expect(cold.stderr).toContain('amaro=true');

  const warm = await help();
  expect(warm.code).toBe(0);
  expect(warm.stdout).toBe(cold.stdout);
  expect(warm.stderr).toContain('amaro=false');
});

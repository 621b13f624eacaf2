/**
 * bin/movingdata.js, checked on real processes:
 * - run as an executable, its shebang gives Node the V8 flags the product runs with;
 * - under a Node older than 24 it exits 2 with one line, no stack trace (run when such a Node
 *   is installed, as on our CI machines);
 * - it turns Node's compile cache on before any TypeScript is read, so that a warm start takes
 *   every module from the cache and never loads Node's type stripper (amaro, a WebAssembly
 *   module that stays resident once loaded): the first run in a fresh cache directory strips
 *   (amaro loaded), the second does not.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIN, run, type Run } from '../run.ts';

// Reports, as the process exits, whether Node loaded its TypeScript stripper.
const PROBE = 'data:text/javascript,process.on("exit",()=>process.stderr.write("amaro="+process.moduleLoadList.some((m)=>m.includes("amaro"))+"\\n"))';

let cacheDir: string;

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'movingdata-compile-cache-'));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

function help(): Promise<Run> {
  // No NODE_COMPILE_CACHE: the cache is the one the entry turns on, under the temp directory.
  return run(process.execPath, ['--import', PROBE, BIN, '--help'], { PATH: process.env['PATH'] ?? '', TMPDIR: cacheDir });
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

it('runs as an executable with the V8 flags of its shebang', async () => {
  // NODE_OPTIONS flags stay out of process.execArgv, so what it shows came from the shebang.
  const probe = join(cacheDir, 'exec-argv.mjs');
  await writeFile(probe, 'process.on("exit", () => process.stderr.write(`execArgv=${JSON.stringify(process.execArgv)}\\n`));\n');
  // The shebang runs `node` from the PATH: this test's Node first.
  const { code, stderr } = await run(BIN, ['--help'], { PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}`, TMPDIR: cacheDir, NODE_OPTIONS: `--import=${probe}` });
  expect(code).toBe(0);
  expect(stderr).toContain('execArgv=["--max-semi-space-size=1"]');
});

/** A system Node older than 24, if this machine has one. */
const OLDER_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
  try {
    return Number(execFileSync(path, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' })) < 24;
  } catch {
    return false;
  }
});

it.skipIf(OLDER_NODE === undefined)('refuses an older Node with one line and exit 2', async () => {
  const { code, stdout, stderr } = await run(OLDER_NODE!, [BIN, 'serve'], { PATH: process.env['PATH'] ?? '', TMPDIR: cacheDir });
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr).toMatch(/^movingdata: needs Node\.js 24 or later, and this is v\d+\.\d+\.\d+\. .*npx movingdata.*\n$/);
});

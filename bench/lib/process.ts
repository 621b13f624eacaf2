/**
 * Running a measured command in its own process, so that its peak RSS is its own: our side
 * reports `process.resourceUsage().maxRSS`; other tools run under GNU time (`%M`).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * The V8 flags `movingdata` runs with, read from the shebang of bin/movingdata.js (which says
 * why: 1 MiB semi-spaces), so that a measured process runs as the product does. Measured on the
 * lab: transfers (200 × 1 MiB) take a quarter to a third less CPU and 40-70 MiB less peak RSS;
 * a drift scan of 100k objects × 3 the same time (30.5 vs 31.7 s), 8 % more CPU and 351 vs
 * 461 MiB peak RSS.
 */
export const NODE_FLAGS: readonly string[] = (() => {
  const shebang = readFileSync(new URL('../../bin/movingdata.js', import.meta.url), 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env -S node(?<flags>(?: --\S+)*)$/.exec(shebang);
  if (!match) throw new Error(`bin/movingdata.js: unexpected shebang ${JSON.stringify(shebang)}`);
  return (match.groups?.['flags'] ?? '').split(' ').filter((flag) => flag !== '');
})();

export interface Measured {
  readonly seconds: number;
  readonly maxRssMiB: number;
  /** User + system CPU seconds of the process (GNU time's %U + %S). */
  readonly cpuSeconds: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runMeasured(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 30 * 60_000): Promise<Measured> {
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '__MAXRSS_KIB=%M __CPU_S=%U+%S', command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`);
  const rss = /__MAXRSS_KIB=(\d+)/.exec(stderr);
  const cpu = /__CPU_S=([0-9.]+)\+([0-9.]+)/.exec(stderr);
  return { seconds, maxRssMiB: rss ? Number(rss[1]) / 1024 : Number.NaN, cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : Number.NaN, stdout, stderr };
}

export function mibPerSecond(bytes: number, seconds: number): number {
  return bytes / (1024 * 1024) / seconds;
}

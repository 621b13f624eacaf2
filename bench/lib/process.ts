/**
 * Running a measured command in its own process, so that its peak RSS is its own: our side
 * reports `process.resourceUsage().maxRSS`; other tools run under GNU time (`%M`).
 */
import { spawn } from 'node:child_process';

/**
 * V8's young generation at 1 MiB per semi-space instead of Node's default (16 MiB on 64-bit).
 * Every socket or file read allocates a Buffer whose memory lives outside the JS heap; with
 * large semi-spaces those Buffers outlive many reads before a scavenge frees them, the memory
 * outside the heap piles up and V8 answers with full mark-compact collections. Measured on the
 * lab (200 × 1 MiB): a quarter to a third less CPU per transfer on every adapter, and 40-70 MiB
 * less peak RSS. The setting we recommend for transfer-heavy processes
 * (NODE_OPTIONS=--max-semi-space-size=1; `npm start` uses it); scans do better on Node's
 * defaults (see the drift suite).
 */
export const TRANSFER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

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

/**
 * Helpers for tests that run real `movingdata worker` processes (node bin/movingdata.js worker):
 * start one with captured output, wait for a condition with a deadline.
 *
 *   const w = spawnWorker('a', env, ['--lease-ms', '1500', '--poll-ms', '50']);
 *   await w.ready;
 *   ...
 *   await stopWorkers([w]);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { BIN } from './run.ts';

export { until } from './until.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Resolves once the worker has logged that it started; rejects if it exits first. */
  readonly ready: Promise<void>;
  readonly exit: Promise<WorkerExit>;
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Still running (neither exited nor killed by a signal). */
  alive(): boolean;
}

/**
 * Start `movingdata worker --id <id> <args...>` with exactly `env` (nothing inherited), its
 * output captured.
 */
export function spawnWorker(id: string, env: Readonly<Record<string, string>>, args: readonly string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [BIN, 'worker', '--id', id, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`"msg":"worker ${id} started"`)) resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exit.then(({ code, signal }) => reject(new Error(`worker ${id} exited (${code ?? signal}) before starting:\n${output}`)));
  });
  ready.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  return { id, child, ready, exit, output: () => output, alive: () => child.exitCode === null && child.signalCode === null };
}

/** SIGKILL every worker still running and wait for all of them to be gone (for `finally`). */
export async function killWorkers(workers: readonly WorkerProcess[]): Promise<void> {
  for (const w of workers) if (w.alive()) w.child.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.exit));
}

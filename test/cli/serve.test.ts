import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type Run } from '../run.ts';

function runCli(args: string[], env: Record<string, string>, until?: (out: string) => boolean): { done: Promise<Run>; child: ReturnType<typeof spawn>; ready: Promise<string> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady!: (s: string) => void;
  const ready = new Promise<string>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (until?.(stdout)) markReady(stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, child, ready };
}

describe('movingdata serve', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'movingdata-serve-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts in demo mode on embedded defaults with no settings, serves /health and /docs, and stops gracefully on SIGTERM', async () => {
    const run = runCli(['serve', '--demo', '--port', '0'], { MOVINGDATA_DATA_DIR: dataDir }, (out) => out.includes('MovingData listening on'));
    const timeout = setTimeout(() => run.child.kill('SIGKILL'), 30_000);
    try {
      const out = await Promise.race([run.ready, run.done.then((r) => Promise.reject(new Error(`exited early: ${r.stderr}`)))]);
      const address = /MovingData listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      expect(address).toBeDefined();
      const health = (await (await fetch(`${address!}/health`)).json()) as { status: string };
      expect(health.status).toBe('ok');
      const docs = await fetch(`${address!}/docs/`);
      expect(docs.status).toBe(200);
      run.child.kill('SIGTERM');
      const result = await run.done;
      expect(result.code).toBe(0);
      const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; level: number });
      expect(lines.some((l) => l.msg === 'shutting down')).toBe(true);
      expect(lines.some((l) => l.msg === 'stopped')).toBe(true);
      expect(lines.filter((l) => l.msg.includes('DEMO KEY'))).toHaveLength(3);
    } finally {
      clearTimeout(timeout);
    }
  });

  it('refuses to start outside demo mode without encryption keys, naming the variable', async () => {
    const result = await runCli(['serve', '--port', '0'], { MOVINGDATA_DATA_DIR: join(dataDir, 'no-keys') }).done;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('S3_ENCRYPTION_KEY');
    expect(result.stderr).toContain('demo');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a bad setting with a message naming the variable, exit code 2 and no stack trace', async () => {
    const result = await runCli(['serve'], { MOVINGDATA_DATA_DIR: dataDir, PORT: 'eighty' }).done;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PORT');
    expect(result.stderr).toContain('must be an integer');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints usage and exits 2 for an unknown command', async () => {
    const result = await runCli(['teleport'], {}).done;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'teleport'");
  });
});

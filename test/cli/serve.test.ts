import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, run, type Run } from '../run.ts';
import { until } from '../until.ts';

function runCli(args: string[], env: Record<string, string>, ready?: (out: string) => boolean): { done: Promise<Run>; child: ReturnType<typeof spawn>; ready: Promise<string>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady!: (s: string) => void;
  const isReady = new Promise<string>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (ready?.(stdout)) markReady(stdout);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, child, ready: isReady, stderr: () => stderr };
}

function stderrOf(started: { stderr: () => string }): string {
  return started.stderr();
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

  it("prints a generated admin token with the seed's curl line, keeps it (mode 600) for the next start, takes the seed's body-less POSTs, and lets `tokens create` through while it runs", async () => {
    const dir = join(dataDir, 'first-start');
    const env = { MOVINGDATA_DATA_DIR: dir };
    const start = async (): Promise<{ address: string; token: string; child: ReturnType<typeof spawn>; done: Promise<Run> }> => {
      const started = runCli(['serve', '--demo', '--port', '0'], env, (out) => out.includes('MovingData listening on'));
      const out = await Promise.race([started.ready, started.done.then((r) => Promise.reject(new Error(`exited early: ${r.stderr}`)))]);
      const address = /MovingData listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      // The banner goes to stderr right after the listening line.
      const banner = await until('the demo banner', async () => /export MOVINGDATA_TOKEN=(\S+)\n\s+curl -X POST -H "Authorization: Bearer \$MOVINGDATA_TOKEN" (\S+)\/seed/.exec(stderrOf(started)) ?? undefined, 10_000);
      expect(banner[2]).toBe(address);
      return { address, token: banner[1]!, child: started.child, done: started.done };
    };
    const first = await start();
    try {
      const kept = join(dir, 'demo-admin-token');
      expect((await readFile(kept, 'utf8')).trim()).toBe(first.token);
      expect((await stat(kept)).mode & 0o777).toBe(0o600);
      const auth = { authorization: `Bearer ${first.token}` };
      // The seed's curl lines send no body, with or without a JSON content type.
      const seeded = await fetch(`${first.address}/seed`, { method: 'POST', headers: auth });
      expect(seeded.status).toBe(200);
      expect(((await seeded.json()) as { created: unknown[] }).created).toHaveLength(12);
      const again = await fetch(`${first.address}/seed`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' } });
      expect(again.status).toBe(200);
      expect(((await again.json()) as { skipped: unknown[] }).skipped).toHaveLength(12);
      const probe = await fetch(`${first.address}/storage_test`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' } });
      expect(probe.status).toBe(200);
      // A body that is there must still be valid.
      const bad = await fetch(`${first.address}/seed`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"count":0}' });
      expect(bad.status).toBe(400);
      // The CLI cannot open the embedded store the server holds: it goes through the server.
      const created = await run(process.execPath, [BIN, 'tokens', 'create', '--name', 'ana', '--roles', 'analytics', '--json'], { PATH: process.env['PATH'] ?? '', ...env });
      expect(created.stderr).toContain('through the running server');
      expect(created.code).toBe(0);
      const ana = (JSON.parse(created.stdout) as { token: string; roles: string[] });
      expect(ana.roles).toEqual(['analytics']);
      const listed = await fetch(`${first.address}/files`, { headers: { authorization: `Bearer ${ana.token}` } });
      expect(listed.status).toBe(200);
      const taken = await run(process.execPath, [BIN, 'tokens', 'create', '--name', 'ana', '--roles', 'analytics'], { PATH: process.env['PATH'] ?? '', ...env });
      expect(taken.code).not.toBe(0);
      expect(taken.stderr).toContain('already exists');
    } finally {
      first.child.kill('SIGTERM');
      await first.done;
    }
    // Stopped: the CLI opens the store itself again, and the next start reuses the token.
    const direct = await run(process.execPath, [BIN, 'tokens', 'list', '--json'], { PATH: process.env['PATH'] ?? '', ...env });
    expect(direct.code).toBe(0);
    expect(direct.stderr).not.toContain('through the running server');
    const second = await start();
    try {
      expect(second.token).toBe(first.token);
      expect((await fetch(`${second.address}/files`, { headers: { authorization: `Bearer ${first.token}` } })).status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      await second.done;
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

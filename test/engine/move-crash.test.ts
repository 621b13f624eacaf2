/**
 * Crash-safe moves: the server process is killed (SIGKILL, by itself, through the
 * MOVINGDATA_CRASH_AFTER hook) right after each step of a move in turn — copy, verify,
 * switch, delete — then started again on the same data directory. The move job resumes from
 * its saved step on the restarted server and the system converges: the file reads back at the
 * target, the source copy is gone from both the metadata and the store, and a drift scan of
 * every location finds nothing (no orphan, nothing missing, nothing left to delete).
 */
import { randomBytes, createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, crashSandbox } from '../server-process.ts';
import { until } from '../until.ts';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Objects stored under a local location's directory (the embedded stand-in for a bucket; files are named by key hash). */
async function storedObjects(dataDir: string, location: string, container: string): Promise<number> {
  const root = join(dataDir, 'locations', location, container, 'objects');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

describe('a move killed after each step converges after a restart', () => {
  const sandbox = crashSandbox();

  it.each(['copy', 'verify', 'switch', 'delete'])('killed after %s', async (step) => {
    const dataDir = await sandbox.dir(`movingdata-crash-${step}-`);
    const content = randomBytes(256 * 1024 + 17);
    const key = `crash/${step}/file.bin`;

    const doomed = await sandbox.start(dataDir, { MOVINGDATA_CRASH_AFTER: `move:${step}` });
    const put = await call(doomed, 'PUT', `/files/aws/${key}`, content);
    expect(put.status).toBe(201);
    const move = await call(doomed, 'POST', `/files/${key}/move`, { from: 'aws', to: 'gcp', wait: false });
    expect(move.status).toBe(202);
    const jobId = ((await move.json()) as { jobs: Array<{ id: string }> }).jobs[0]!.id;
    const died = await Promise.race([doomed.exit, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000))]);
    expect(died, `the server should have killed itself after ${step}:\n${doomed.output()}`).toEqual({ code: null, signal: 'SIGKILL' });

    const server = await sandbox.start(dataDir);
    try {
      const job = await until('the move to finish on the restarted server', async () => {
        const j = (await (await call(server, 'GET', `/jobs/${jobId}`)).json()) as { state: string; attempts: number; result: { steps?: string[] } | null; last_error: string | null };
        return j.state === 'queued' || j.state === 'running' ? undefined : j;
      }, 30_000, 50);
      expect(job.state, job.last_error ?? '').toBe('succeeded');
      expect(job.attempts).toBe(2);
      // The resumed run did only the steps after the one that completed before the crash.
      const after = ['copy', 'verify', 'switch', 'delete'].slice(['copy', 'verify', 'switch', 'delete'].indexOf(step) + 1);
      expect(job.result?.steps?.slice(-after.length || undefined)).toEqual(after.length === 0 ? job.result?.steps : after);

      const read = await call(server, 'GET', `/files/gcp/${key}`);
      expect(read.status).toBe(200);
      expect(sha256(Buffer.from(await read.arrayBuffer()))).toBe(sha256(content));
      expect((await call(server, 'GET', `/files/aws/${key}`)).status).toBe(404);

      const inventory = (await (await call(server, 'GET', `/files?prefix=${encodeURIComponent(key)}`)).json()) as { items: Array<{ replicas: Array<{ location: string; state: string }> }> };
      const live = inventory.items[0]!.replicas.filter((r) => r.state !== 'deleted');
      expect(live.map((r) => [r.location, r.state])).toEqual([['gcp', 'verified']]);
      expect(await storedObjects(dataDir, 'aws', 'netapp-bucket')).toBe(0);
      expect(await storedObjects(dataDir, 'gcp', 'netapp-gcs')).toBe(1);

      const scan = await call(server, 'POST', '/consistency/scan', {});
      expect(scan.status).toBe(200);
      const status = (await (await call(server, 'GET', '/consistency/status')).json()) as { drift_total: number; drift: Record<string, number> };
      expect(status.drift).toEqual({ missing: 0, differing: 0, conflict: 0, failed: 0, orphan: 0, pending_delete: 0 });
      expect(status.drift_total).toBe(0);
    } finally {
      server.child.kill('SIGTERM');
      await server.exit;
    }
  }, 90_000);
});

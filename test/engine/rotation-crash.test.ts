/**
 * A key rotation killed in the middle: the server kills itself (SIGKILL, through the
 * MOVINGDATA_CRASH_AFTER hook) right after the re-wrap job switched its first copy to the
 * re-wrapped object and before it removed the old one, then starts again on the same data
 * directory. The job resumes on the restarted server and finishes: every file reads back, each
 * copy is sealed with the new key, exactly one object per file is stored, and a drift scan
 * finds nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, crashSandbox } from '../server-process.ts';
import { until } from '../until.ts';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('a key rotation killed between a switch and the old object removal', () => {
  const sandbox = crashSandbox();

  it('resumes after a restart and converges: files readable, new key everywhere, drift 0', async () => {
    const dataDir = await sandbox.dir('movingdata-rotation-crash-');
    const doomed = await sandbox.start(dataDir, { MOVINGDATA_CRASH_AFTER: 'rewrap:switch' });
    const contents = new Map<string, Buffer>();
    for (let i = 0; i < 4; i++) {
      const body = randomBytes(70_000 + i);
      contents.set(`rotate-crash/${i}.bin`, body);
      expect((await call(doomed, 'PUT', `/files/gcp/rotate-crash/${i}.bin`, body)).status).toBe(201);
    }
    const rotated = await call(doomed, 'POST', '/keys/gcp/rotate');
    expect([200, 202]).toContain(rotated.status);
    const { job, active_key_id: activeKey } = (await rotated.json()) as { job: { id: string }; active_key_id: string };
    const died = await Promise.race([doomed.exit, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000))]);
    expect(died, `the server should have killed itself after the first switch:\n${doomed.output()}`).toEqual({ code: null, signal: 'SIGKILL' });

    const server = await sandbox.start(dataDir);
    try {
      const finished = await until(
        'the re-wrap to finish on the restarted server',
        async () => {
          const j = (await (await call(server, 'GET', `/jobs/${job.id}`)).json()) as { state: string; last_error: string | null; progress: { failed?: number } };
          return j.state === 'queued' || j.state === 'running' ? undefined : j;
        },
        30_000,
        50,
      );
      expect(finished.state, finished.last_error ?? '').toBe('succeeded');
      expect(finished.progress.failed).toBe(0);
      for (const [key, body] of contents) {
        const got = await call(server, 'GET', `/files/gcp/${key}`);
        expect(got.status, key).toBe(200);
        expect(sha256(Buffer.from(await got.arrayBuffer())), key).toBe(sha256(body));
      }
      const inventory = (await (await call(server, 'GET', '/files?prefix=rotate-crash/')).json()) as { items: Array<{ replicas: Array<{ key_id: string }> }> };
      expect(inventory.items.flatMap((i) => i.replicas.map((r) => r.key_id))).toEqual(Array.from({ length: contents.size }, () => activeKey));
      // One object per file: neither the old copy nor a half-made one is left.
      const objects = await readdir(join(dataDir, 'locations', 'gcp', 'netapp-gcs', 'objects'), { recursive: true, withFileTypes: true });
      expect(objects.filter((e) => e.isFile()).length).toBe(contents.size);
      expect((await call(server, 'POST', '/consistency/scan', {})).status).toBe(200);
      const status = (await (await call(server, 'GET', '/consistency/status')).json()) as { drift: Record<string, number> };
      expect(status.drift).toEqual({ missing: 0, differing: 0, conflict: 0, failed: 0, orphan: 0, pending_delete: 0 });
    } finally {
      server.child.kill('SIGTERM');
      await server.exit;
    }
  }, 90_000);
});

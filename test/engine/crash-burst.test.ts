/**
 * kill -9 under a burst of writes: a server takes a burst of new objects and overwrites (16 in
 * flight), is SIGKILLed in the middle of it, and is started again on the same data (embedded
 * defaults: the same data directory; the lab: the same PostgreSQL schema and buckets).
 *
 * - every acknowledged write reads back its own bytes (new keys), or a version committed after
 *   it (overwritten keys);
 * - nothing is served under a version it is not: every GET's bytes match its ETag, and each
 *   ETag is one of the bodies sent for that key; a key that was never acknowledged is a 404 or
 *   one of its own bodies (committed, its answer lost in the kill);
 * - what the crash left (copies in flight, temporary upload files, multipart uploads) is settled
 *   at start-up or reported by the scan and repaired: drift 0, no temporary file left.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labEnv } from '../lab.ts';
import { call, crashSandbox } from '../server-process.ts';
import { until } from '../until.ts';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const LOCATIONS = ['aws', 'azure', 'gcp'] as const;
const NEW_KEYS = 120;
const OVERWRITTEN = 8;
const IN_FLIGHT = 16;
/** Acknowledged writes before the kill. */
const KILL_AFTER = 50;

interface Attempt {
  readonly key: string;
  readonly location: string;
  readonly sha256: string;
  acked: boolean;
}

const SETUPS: ReadonlyArray<[string, () => Record<string, string>]> = [
  ['embedded defaults', () => ({})],
  [
    'the lab',
    () => ({ ...labEnv(), DATABASE_SCHEMA: `burst_${process.pid}`, S3_BUCKET: `burst-${process.pid}`, AZURE_CONTAINER: `burst-${process.pid}`, GCS_BUCKET: `burst-${process.pid}`, MOVINGDATA_STALE_WRITE_S: '1' }),
  ],
];

describe.each(SETUPS)('kill -9 during a burst of writes on %s', (label, env) => {
  const sandbox = crashSandbox();

  it('serves only committed versions afterwards, each acknowledged write readable, and converges to drift 0', async () => {
    const dataDir = await sandbox.dir('movingdata-burst-');
    const first = await sandbox.start(dataDir, env());

    // Keys to overwrite, each with a first version everybody agrees on.
    const attempts: Attempt[] = [];
    for (let i = 0; i < OVERWRITTEN; i++) {
      const location = LOCATIONS[i % LOCATIONS.length]!;
      const body = randomBytes(2048 + i);
      const put = await call(first, 'PUT', `/files/${location}/burst/ow/${i}`, body);
      expect(put.status).toBe(201);
      attempts.push({ key: `burst/ow/${i}`, location, sha256: sha256(body), acked: true });
    }

    // The burst: new keys and overwrites interleaved, 16 in flight; killed after KILL_AFTER acks.
    const work = Array.from({ length: NEW_KEYS }, (_, i) =>
      i % 3 === 0 ? { key: `burst/ow/${i % OVERWRITTEN}`, location: LOCATIONS[(i % OVERWRITTEN) % LOCATIONS.length]! } : { key: `burst/new/${i}`, location: LOCATIONS[i % LOCATIONS.length]! },
    );
    let acked = 0;
    let next = 0;
    let killed = false;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < work.length && !killed) {
          const { key, location } = work[next++]!;
          const body = randomBytes(1024 + Math.floor(Math.random() * 64 * 1024));
          const attempt: Attempt = { key, location, sha256: sha256(body), acked: false };
          attempts.push(attempt);
          const put = await call(first, 'PUT', `/files/${location}/${key}`, body).catch(() => undefined);
          if (put?.status === 201) {
            attempt.acked = true;
            acked += 1;
            if (acked === KILL_AFTER && !killed) {
              killed = true;
              first.child.kill('SIGKILL');
            }
          }
        }
      }),
    );
    expect(await first.exit).toEqual({ code: null, signal: 'SIGKILL' });
    const unacked = attempts.filter((a) => !a.acked).length;
    expect(unacked, 'writes in flight when the server died').toBeGreaterThan(0);

    // The lab's copies in flight are settled at start-up once they are older than the stale age.
    if (label === 'the lab') await new Promise((resolve) => setTimeout(resolve, 1500));
    const server = await sandbox.start(dataDir, env());
    try {
      const keys = [...new Set(attempts.map((a) => `${a.location}\u0000${a.key}`))];
      for (const entry of keys) {
        const [location, key] = entry.split('\u0000') as [string, string];
        const mine = attempts.filter((a) => a.key === key && a.location === location);
        const got = await call(server, 'GET', `/files/${location}/${key}`);
        if (got.status === 404) {
          expect(mine.some((a) => a.acked), `${location}:${key} was acknowledged, yet is gone`).toBe(false);
          continue;
        }
        expect(got.status, `${location}:${key}`).toBe(200);
        const bytes = Buffer.from(await got.arrayBuffer());
        const etag = (got.headers.get('etag') ?? '').replaceAll('"', '');
        expect(sha256(bytes), `${location}:${key}: bytes match the ETag`).toBe(etag);
        expect(mine.map((a) => a.sha256), `${location}:${key}: one of the bodies sent`).toContain(etag);
        // No acknowledged write is lost: what is served was sent no earlier than the last ack.
        const lastAck = mine.findLastIndex((a) => a.acked);
        if (lastAck >= 0) expect(mine.slice(lastAck).map((a) => a.sha256), `${location}:${key}: not older than its last acknowledged write`).toContain(etag);
      }

      // The scan reports what is left (if anything), its repairs settle it: drift 0.
      const scanned = async () => {
        expect((await call(server, 'POST', '/consistency/scan', {})).status).toBe(200);
        return (await (await call(server, 'GET', '/consistency/status')).json()) as { drift_total: number; drift: Record<string, number>; jobs: Record<string, Record<string, number>> };
      };
      const firstScan = await scanned();
      if (firstScan.drift_total > 0) {
        await until(
          'the repairs to finish',
          async () => {
            const status = (await (await call(server, 'GET', '/consistency/status')).json()) as { jobs: Record<string, Record<string, number>> };
            const repair = status.jobs['repair'];
            return repair === undefined || (repair['queued'] === 0 && repair['running'] === 0) ? true : undefined;
          },
          60_000,
          100,
        );
      }
      const after = await scanned();
      expect(after.drift, JSON.stringify(firstScan.drift)).toEqual({ missing: 0, differing: 0, conflict: 0, failed: 0, orphan: 0, pending_delete: 0 });
      if (label === 'embedded defaults') {
        for (const [location, container] of [
          ['aws', 'netapp-bucket'],
          ['azure', 'netapp-blob'],
          ['gcp', 'netapp-gcs'],
        ]) {
          const tmp = await readdir(join(dataDir, 'locations', location!, container!, 'tmp')).catch(() => []);
          expect(tmp, `${location} temporary files`).toEqual([]);
        }
      }
      console.info(`crash-burst on ${label}: ${attempts.length} writes, ${acked} acknowledged before the kill, ${unacked} in flight or after; first scan ${JSON.stringify(firstScan.drift)}`);
    } finally {
      server.child.kill('SIGTERM');
      await server.exit;
    }
  }, 180_000);
});

/**
 * Storage throughput: put and get through each adapter on the lab, beside rclone moving the
 * same bytes (the same files on disk) to the same server, each side in its own process.
 *
 * Cases: 200 files of 1 MiB (4 at a time on both sides: rclone's default --transfers) and one
 * 512 MiB file (multipart / block / resumable). Throughput uses each side's own transfer time
 * (ours: from opening the store to the last byte; rclone: its reported elapsedTime), so process
 * start-up is not counted for either. Peak RSS is the whole process's.
 */
import { randomFillSync } from 'node:crypto';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.ts';
import type { StoreConfig } from '../../src/storage/factory.ts';
import { mibPerSecond, runMeasured } from '../lib/process.ts';
import { rcloneElapsed, rcloneEnv, rcloneRemotes } from '../lib/rclone.ts';

const MiB = 1024 * 1024;
const WORKER = join(import.meta.dirname, 'worker.ts');
const BUCKET = 'mdbench';

export interface StorageCase {
  readonly name: string;
  readonly files: number;
  readonly bytesEach: number;
  readonly concurrency: number;
}

export const FULL_CASES: readonly StorageCase[] = [
  { name: '1MiBx200', files: 200, bytesEach: MiB, concurrency: 4 },
  { name: '512MiBx1', files: 1, bytesEach: 512 * MiB, concurrency: 1 },
];

export const QUICK_CASES: readonly StorageCase[] = [
  { name: '1MiBx20', files: 20, bytesEach: MiB, concurrency: 4 },
  { name: '64MiBx1', files: 1, bytesEach: 64 * MiB, concurrency: 1 },
];

export interface StorageRow {
  readonly adapter: string;
  readonly case: string;
  readonly op: 'put' | 'get';
  readonly bytes: number;
  readonly oursMiBs: number;
  readonly rcloneMiBs: number;
  /** ours / rclone throughput: above 1 means we are faster. */
  readonly ratio: number;
  readonly oursRssMiB: number;
  readonly rcloneRssMiB: number;
}

async function writeSource(dir: string, c: StorageCase): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  const block = Buffer.allocUnsafe(Math.min(c.bytesEach, 8 * MiB));
  for (let i = 0; i < c.files; i++) {
    const name = `file-${String(i).padStart(4, '0')}.bin`;
    names.push(name);
    const path = join(dir, name);
    const handle = await open(path, 'w');
    for (let written = 0; written < c.bytesEach; written += block.length) {
      randomFillSync(block);
      await handle.write(block, 0, Math.min(block.length, c.bytesEach - written));
    }
    await handle.close();
  }
  return names;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

async function ours(store: StoreConfig, op: 'put' | 'get', dir: string, prefix: string, names: readonly string[], concurrency: number) {
  const measured = await runMeasured(process.execPath, [WORKER, JSON.stringify({ store, op, dir, prefix, names, concurrency })], process.env);
  const result = JSON.parse(measured.stdout.trim().split('\n').pop() ?? '{}') as { bytes: number; seconds: number; maxRssMiB: number };
  return { seconds: result.seconds, rss: measured.maxRssMiB, bytes: result.bytes };
}

async function rclone(env: Record<string, string>, source: string, destination: string, transfers: number) {
  const measured = await runMeasured('rclone', ['copy', source, destination, '--transfers', String(transfers), '--use-json-log', '-v', '--stats', '1h'], rcloneEnv(env));
  return { seconds: rcloneElapsed(measured.stderr), rss: measured.maxRssMiB };
}

export async function runStorageBench(lab: Readonly<Record<string, string>>, workDir: string, cases: readonly StorageCase[], log: (line: string) => void): Promise<StorageRow[]> {
  const { S3_SSE_KMS_KEY_ID: _sse, ...plainLab } = lab; // both sides store without SSE-KMS
  const config = loadConfig({ ...plainLab, S3_BUCKET: BUCKET, AZURE_CONTAINER: BUCKET, GCS_BUCKET: BUCKET, MOVINGDATA_DATA_DIR: join(workDir, 'ours-local') });
  const [s3, azure, gcs] = config.locations as [StoreConfig, StoreConfig, StoreConfig];
  const local: StoreConfig = { provider: 'local', location: 'bench', container: BUCKET, root: join(workDir, 'ours-local', BUCKET) };
  const remotes = rcloneRemotes(lab);
  const targets = [
    { adapter: 's3 (MinIO)', store: s3, remote: `${remotes.s3.name}:${BUCKET}/`, env: remotes.s3.env },
    { adapter: 'azure (Azurite)', store: azure, remote: `${remotes.azure.name}:${BUCKET}/`, env: remotes.azure.env },
    { adapter: 'gcs (fake-gcs-server)', store: gcs, remote: `${remotes.gcs.name}:${BUCKET}/`, env: remotes.gcs.env },
    { adapter: 'local disk', store: local, remote: `${join(workDir, 'rclone-local')}/`, env: {} },
  ];

  const rows: StorageRow[] = [];
  const run = `${Date.now().toString(36)}`;
  for (const c of cases) {
    const source = join(workDir, 'source', c.name);
    log(`preparing ${c.files} × ${c.bytesEach / MiB} MiB in ${source}`);
    const names = await writeSource(source, c);
    const bytes = c.files * c.bytesEach;
    for (const target of targets) {
      const oursPrefix = `${run}/ours/${c.name}/`;
      const rclonePath = `${target.remote}${run}/rclone/${c.name}/`;
      log(`${target.adapter} ${c.name}: put`);
      const oursPut = await ours(target.store, 'put', source, oursPrefix, names, c.concurrency);
      const rclonePut = await rclone(target.env, source, rclonePath, c.concurrency);
      log(`${target.adapter} ${c.name}: get`);
      const oursOut = join(workDir, 'out', 'ours', c.name);
      const rcloneOut = join(workDir, 'out', 'rclone', c.name);
      await mkdir(oursOut, { recursive: true });
      await mkdir(rcloneOut, { recursive: true });
      const oursGet = await ours(target.store, 'get', oursOut, oursPrefix, names, c.concurrency);
      const rcloneGet = await rclone(target.env, rclonePath, rcloneOut, c.concurrency);
      for (const [who, dir] of [['ours', oursOut], ['rclone', rcloneOut]] as const) {
        const got = await dirBytes(dir);
        if (got !== bytes) throw new Error(`${target.adapter} ${c.name}: ${who} got ${got} bytes back, expected ${bytes}`);
      }
      await rm(join(workDir, 'out'), { recursive: true, force: true });
      for (const [op, o, r] of [
        ['put', oursPut, rclonePut],
        ['get', oursGet, rcloneGet],
      ] as const) {
        const oursMiBs = mibPerSecond(bytes, o.seconds);
        const rcloneMiBs = mibPerSecond(bytes, r.seconds);
        rows.push({ adapter: target.adapter, case: c.name, op, bytes, oursMiBs, rcloneMiBs, ratio: oursMiBs / rcloneMiBs, oursRssMiB: o.rss, rcloneRssMiB: r.rss });
      }
    }
    await rm(source, { recursive: true, force: true });
  }
  return rows;
}

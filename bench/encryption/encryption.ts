/**
 * What encryption costs on the wire: the same bytes put and got through the same adapter, once
 * in the clear and once through EncryptedStore (age, streaming), each in a fresh process run
 * with the product's Node flags.
 * Overhead ratio = encrypted throughput / plain throughput (1.0 = free).
 */
import { join } from 'node:path';
import { generateIdentity } from '../../src/crypto/age/index.ts';
import { openStore, type StoreConfig } from '../../src/storage/factory.ts';
import { loadConfig } from '../../src/config/config.ts';
import { mibPerSecond, NODE_FLAGS, runMeasured } from '../lib/process.ts';

const WORKER = join(import.meta.dirname, 'worker.ts');
const BUCKET = 'mdbench-enc';

export interface EncryptionRow {
  readonly adapter: string;
  readonly op: 'put' | 'get';
  readonly bytes: number;
  readonly plainMiBs: number;
  readonly encryptedMiBs: number;
  readonly ratio: number;
  readonly plainRssMiB: number;
  readonly encryptedRssMiB: number;
}

async function measure(store: StoreConfig, encrypted: boolean, identity: string, op: 'put' | 'get', key: string, bytes: number) {
  const run = await runMeasured(process.execPath, [...NODE_FLAGS, WORKER, JSON.stringify({ store, encrypted, identity, op, key, bytes })], process.env);
  const result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { bytes: number; seconds: number };
  if (result.bytes !== bytes) throw new Error(`${store.provider} ${op}: moved ${result.bytes} bytes, expected ${bytes}`);
  return { seconds: result.seconds, rss: run.maxRssMiB };
}

export async function runEncryptionBench(lab: Readonly<Record<string, string>>, workDir: string, bytes: number, log: (line: string) => void): Promise<EncryptionRow[]> {
  const { S3_SSE_KMS_KEY_ID: _sse, ...plainLab } = lab;
  const config = loadConfig({ ...plainLab, S3_BUCKET: BUCKET, AZURE_CONTAINER: BUCKET, GCS_BUCKET: BUCKET, MOVINGDATA_DATA_DIR: join(workDir, 'data') });
  const targets: Array<[string, StoreConfig]> = [
    ['s3 (MinIO)', config.locations[0]!.store],
    ['azure (Azurite)', config.locations[1]!.store],
    ['gcs (fake-gcs-server)', config.locations[2]!.store],
    ['local disk', { provider: 'local', location: 'bench', container: BUCKET, root: join(workDir, 'local', BUCKET) }],
  ];
  const identity = generateIdentity().encode();
  const rows: EncryptionRow[] = [];
  for (const [adapter, store] of targets) {
    for (const op of ['put', 'get'] as const) {
      log(`${adapter}: ${op} ${bytes / 2 ** 20} MiB plain, then encrypted`);
      const plain = await measure(store, false, identity, op, 'overhead/plain.bin', bytes);
      const encrypted = await measure(store, true, identity, op, 'overhead/encrypted.bin', bytes);
      const plainMiBs = mibPerSecond(bytes, plain.seconds);
      const encryptedMiBs = mibPerSecond(bytes, encrypted.seconds);
      rows.push({ adapter, op, bytes, plainMiBs, encryptedMiBs, ratio: encryptedMiBs / plainMiBs, plainRssMiB: plain.rss, encryptedRssMiB: encrypted.rss });
    }
    // The lab's fake-gcs-server keeps objects in memory: leave nothing behind anywhere.
    const cleanup = await openStore(store);
    await Promise.all(['overhead/plain.bin', 'overhead/encrypted.bin'].map((key) => cleanup.delete(key)));
    await cleanup.close();
  }
  return rows;
}

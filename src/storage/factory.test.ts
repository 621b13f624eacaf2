/**
 * From configuration to a store on the lab's real servers: the upload tuning variables reach the
 * adapters, which is visible in what the server stores (an S3 multipart ETag counts its parts; an
 * Azure block blob lists its committed blocks), read back with the official SDKs.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { labEnv } from '../../test/lab.ts';
import { labS3Client } from '../../test/lab-s3.ts';
import { loadConfig } from '../config/config.ts';
import { generatedBody } from './conformance/body.ts';
import { openStore } from './factory.ts';

const MiB = 1024 * 1024;
const CONTAINER = 'mdconf';

/** Puts `size` bytes at a fresh key through the location built from `env` (lab + overrides), then hands the key to `inspect`. */
async function putThroughConfig(index: 0 | 1, overrides: Record<string, string>, size: number, inspect: (key: string) => Promise<void>): Promise<void> {
  const env = { ...labEnv(), S3_BUCKET: CONTAINER, AZURE_CONTAINER: CONTAINER, ...overrides };
  const store = await openStore(loadConfig(env, '/tmp/unused').locations[index]!.store);
  const key = `factory/${randomUUID()}.bin`;
  try {
    await store.ensureContainer();
    const body = generatedBody(size);
    const put = await store.put(key, body.stream, { size });
    expect(put.size).toBe(size);
    await inspect(key);
  } finally {
    await store.delete(key).catch(() => undefined);
    await store.close();
  }
}

describe('upload tuning from configuration, on the lab', () => {
  it('S3_UPLOAD_PART_SIZE sets the multipart part size MinIO receives', async () => {
    const s3 = labS3Client();
    const parts = async (key: string): Promise<string | undefined> => (await s3.send(new HeadObjectCommand({ Bucket: CONTAINER, Key: key }))).ETag?.replace(/"/g, '').split('-')[1];
    try {
      // 11 MiB: 3 parts of 5 MiB when tuned, 2 of the default 8 MiB otherwise.
      await putThroughConfig(0, { S3_UPLOAD_PART_SIZE: '5M', S3_UPLOAD_CONCURRENCY: '1' }, 11 * MiB, async (key) => expect(await parts(key)).toBe('3'));
      await putThroughConfig(0, {}, 11 * MiB, async (key) => expect(await parts(key)).toBe('2'));
    } finally {
      s3.destroy();
    }
  });

  it('AZURE_UPLOAD_BLOCK_SIZE sets the block size Azurite commits', async () => {
    const env = labEnv();
    const service = new BlobServiceClient(env['AZURITE_BLOB_URL']!, new StorageSharedKeyCredential(env['AZURE_STORAGE_ACCOUNT']!, env['AZURE_STORAGE_KEY']!));
    const blocks = async (key: string): Promise<number[]> => {
      const list = await service.getContainerClient(CONTAINER).getBlockBlobClient(key).getBlockList('committed');
      return (list.committedBlocks ?? []).map((block) => block.size);
    };
    // 3.5 MiB: blocks of 1, 1, 1 and 0.5 MiB when tuned; one Put Blob (no blocks) at the default 8 MiB.
    await putThroughConfig(1, { AZURE_UPLOAD_BLOCK_SIZE: '1MiB', AZURE_UPLOAD_CONCURRENCY: '2' }, 3.5 * MiB, async (key) => expect(await blocks(key)).toEqual([MiB, MiB, MiB, MiB / 2]));
    await putThroughConfig(1, {}, 3.5 * MiB, async (key) => expect((await blocks(key)).length).toBeLessThanOrEqual(1));
  });
});

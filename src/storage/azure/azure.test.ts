import { Readable } from 'node:stream';
import { ContainerClient, ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { labEnv } from '../../../test/lab.ts';
import { startPrivateServer } from '../../lab/index.ts';
import { bufferBody, digestStream } from '../conformance/body.ts';
import { runStoreConformance } from '../conformance/suite.ts';
import { listAll } from '../list.ts';
import { AzureBlobStore, type AzureBlobStoreOptions } from './azure-store.ts';

const MiB = 1024 * 1024;

function lab(): Pick<AzureBlobStoreOptions, 'accountUrl' | 'accountName' | 'accountKey'> {
  const env = labEnv();
  return { accountUrl: env['AZURITE_BLOB_URL'], accountName: env['AZURE_STORAGE_ACCOUNT'], accountKey: env['AZURE_STORAGE_KEY'] };
}

runStoreConformance({
  name: 'azure (Azurite)',
  // 4 MiB blocks (default 8) so that the 5 MiB and 6 MiB cases and the failing body also go
  // through staged blocks, not only the 160 MiB object.
  open: (container) => new AzureBlobStore({ location: 'conformance', container, ...lab(), blockSize: 4 * MiB }),
  // List Blobs serves up to 5000 per page.
  widePages: true,
  // Azurite checks Shared Key signatures: a well-formed key that is not the account's.
  badCredentials: (container) => new AzureBlobStore({ location: 'denied', container, ...lab(), accountKey: Buffer.alloc(64, 7).toString('base64'), maxTries: 1 }),
  stoppedServer: async (container) => {
    const server = await startPrivateServer('azurite');
    try {
      const store = new AzureBlobStore({
        location: 'stopped',
        container,
        accountUrl: server.env['AZURITE_BLOB_URL'],
        accountName: server.env['AZURE_STORAGE_ACCOUNT'],
        accountKey: server.env['AZURE_STORAGE_KEY'],
        maxTries: 2,
        retryDelayMs: 100,
        tryTimeoutMs: 5_000,
      });
      await store.ensureContainer();
      await store.put('any/key', Readable.from([Buffer.from('x')]), { size: 1 });
      await server.stop();
      return { store, cleanup: () => server.dispose() };
    } catch (err) {
      await server.dispose();
      throw err;
    }
  },
});

// What the suite cannot see: names Azure itself would rewrite (dot segments, a segment's
// trailing dot, `\`) and metadata names that are not C# identifiers.
describe('azure: names Azure would rewrite', () => {
  it('keeps such keys apart and exact, with their metadata names', async () => {
    const store = new AzureBlobStore({ location: 'names', container: 'mdconf', ...lab() });
    const prefix = `names-${Date.now().toString(36)}/`;
    const names = ['..', '.', 'a/../b', 'b', 'x/./y', 'x/y', 'back\\slash', 'back/slash', 'end.', 'end', 'fw\uFF0E', 'q\u201B.', 'bs\uFF3C', 'dots.../.'];
    const keys = names.map((name) => `${prefix}${name}`);
    const metadata = { 'plaintext-sha256': 'a', '9lives': 'b', hdi_isfolder: 'c', a_2d: 'd', 'dotted.name': 'e' };
    try {
      await store.ensureContainer();
      for (const key of keys) await store.put(key, bufferBody(key).stream, { metadata });
      for (const key of keys) {
        expect((await digestStream((await store.get(key)).body, { keep: true })).bytes?.toString(), key).toBe(key);
      }
      expect((await store.head(keys[0]!)).metadata).toEqual(metadata);
      const listed: string[] = [];
      for await (const item of listAll(store, prefix)) listed.push(item.key);
      expect(listed.sort()).toEqual([...keys].sort());
    } finally {
      for (const key of keys) await store.delete(key);
      await store.close();
    }
  });
});

describe('azure: blocks a crashed write left uncommitted', () => {
  it('are removed by cleanupIncomplete once old enough; committed blobs, empty ones included, stay', async () => {
    const container = `mdclean${Date.now().toString(36)}`;
    const store = new AzureBlobStore({ location: 'cleanup', container, ...lab() });
    const env = labEnv();
    const raw = new ContainerClient(`${env['AZURITE_BLOB_URL']}/${container}`, new StorageSharedKeyCredential(env['AZURE_STORAGE_ACCOUNT']!, env['AZURE_STORAGE_KEY']!));
    try {
      await store.ensureContainer();
      await store.put('kept/full', bufferBody('payload').stream);
      await store.put('kept/empty', bufferBody('').stream);
      const staged = raw.getBlockBlobClient('left/over~v2.0123456789ab');
      await staged.stageBlock(Buffer.from('block-000001').toString('base64'), Buffer.from('half a write'), 12);
      const uncommitted = async () => {
        const names: string[] = [];
        for await (const item of raw.listBlobsFlat({ includeUncommitedBlobs: true })) names.push(item.name);
        return names.sort();
      };
      expect(await uncommitted()).toEqual(['kept/empty', 'kept/full', 'left/over~v2.0123456789ab']);
      // Too recent for an hour's threshold: a write may still be in flight.
      expect(await store.cleanupIncomplete(3_600_000)).toBe(0);
      expect(await store.cleanupIncomplete(0)).toBe(1);
      expect(await uncommitted()).toEqual(['kept/empty', 'kept/full']);
      expect((await digestStream((await store.get('kept/full')).body, { keep: true })).bytes?.toString()).toBe('payload');
      expect((await store.head('kept/empty')).size).toBe(0);
      expect(await store.cleanupIncomplete(0)).toBe(0);
    } finally {
      await raw.deleteIfExists();
      await store.close();
    }
  });
});

describe('azure: a container SAS instead of the account key', () => {
  it('lists (flat, paged and one level) and reads with a SAS token', async () => {
    const keyed = new AzureBlobStore({ location: 'sas-writer', container: 'mdconf', ...lab() });
    const prefix = `sas-${Date.now().toString(36)}/`;
    const keys = ['a b', 'c+d', 'dir/e', 'dir/f'].map((name) => `${prefix}${name}`);
    const { accountName, accountKey } = lab();
    const sas = generateBlobSASQueryParameters(
      { containerName: 'mdconf', permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3_600_000) },
      new StorageSharedKeyCredential(accountName!, accountKey!),
    ).toString();
    const store = new AzureBlobStore({ location: 'sas', container: 'mdconf', accountUrl: lab().accountUrl, sasToken: sas });
    try {
      await keyed.ensureContainer();
      for (const key of keys) await keyed.put(key, bufferBody(key).stream);
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listPage(prefix, { limit: 1, ...(cursor === undefined ? {} : { cursor }) });
        listed.push(...page.items.map((i) => i.key));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(listed).toEqual([...keys].sort());
      const level = await store.listPage(prefix, { delimiter: '/' });
      expect(level.items.map((i) => i.key)).toEqual(keys.slice(0, 2));
      expect(level.prefixes).toEqual([`${prefix}dir/`]);
      expect((await digestStream((await store.get(keys[0]!)).body, { keep: true })).bytes?.toString()).toBe(keys[0]);
      // A SAS that may not list is refused as such, not as a parse failure.
      const readOnly = generateBlobSASQueryParameters(
        { containerName: 'mdconf', permissions: ContainerSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3_600_000) },
        new StorageSharedKeyCredential(accountName!, accountKey!),
      ).toString();
      const cannotList = new AzureBlobStore({ location: 'sas-r', container: 'mdconf', accountUrl: lab().accountUrl, sasToken: readOnly, maxTries: 1 });
      await expect(cannotList.listPage(prefix)).rejects.toMatchObject({ code: 'access_denied' });
      await cannotList.close();
    } finally {
      for (const key of keys) await keyed.delete(key);
      await store.close();
      await keyed.close();
    }
  });
});

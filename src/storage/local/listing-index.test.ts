/**
 * The local adapter lists without reading: a listing of objects it has seen before stats their
 * files and opens none (issue 13 §6: a plain drift scan must list, not read), across a restart
 * too; and whatever touched a file since (a substitution, even one that restores mtime, an
 * in-place truncation, a garbage index) sends it back to the trailer, so a listing never reports
 * what is not there.
 */
import { copyFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListedObject } from '../port.ts';
import { LocalStore } from './local-store.ts';

const N = 200;

async function listAll(store: LocalStore, prefix = ''): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listPage(prefix, { limit: 64, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

function pathOf(root: string, key: string): string {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  return join(root, 'objects', hash.slice(0, 2), hash);
}

describe('local listing index', () => {
  let root: string;
  let store: LocalStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'movingdata-listing-'));
    store = new LocalStore({ location: 'aws', root, durable: false });
    await store.ensureContainer();
    for (let i = 0; i < N; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => store.put(`k/${String(i + j).padStart(4, '0')}`, Readable.from([Buffer.from(`body ${i + j}`)]))));
    }
  });
  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('a second listing opens no object file, and one after a restart none either', async () => {
    const first = await listAll(store);
    expect(first).toHaveLength(N);
    expect(store.listingReads).toBe(N);

    const second = await listAll(store);
    expect(store.listingReads).toBe(N);
    expect(second).toEqual(first);

    const restarted = new LocalStore({ location: 'aws', root, durable: false });
    expect(await listAll(restarted)).toEqual(first);
    expect(restarted.listingReads).toBe(0);
    // A prefix listing uses the same index.
    expect((await listAll(restarted, 'k/001')).map((o) => o.key)).toEqual(first.filter((o) => o.key.startsWith('k/001')).map((o) => o.key));
    expect(restarted.listingReads).toBe(0);
  });

  it('an overwrite, a tier change and a delete are listed as they are now', async () => {
    await listAll(store);
    await store.put('k/0003', Readable.from([Buffer.from('a longer body than before')]));
    await store.setTier('k/0004', 'cool');
    await store.delete('k/0005');
    const reads = store.listingReads;
    const listed = new Map((await listAll(store)).map((o) => [o.key, o]));
    expect(store.listingReads - reads).toBe(2);
    expect(listed.get('k/0003')?.size).toBe('a longer body than before'.length);
    expect(listed.get('k/0003')?.etag).toBe(createHash('sha256').update('a longer body than before').digest('hex'));
    expect(listed.get('k/0004')?.tier).toBe('cool');
    expect(listed.has('k/0005')).toBe(false);
    expect(listed.size).toBe(N - 1);
  });

  it('a same-size substitution behind its back is read again, even with the mtime put back', async () => {
    const before = new Map((await listAll(store)).map((o) => [o.key, o]));
    const a = pathOf(root, 'k/0010');
    // Object b's file (same size: "body 11" vs "body 10") copied over a's, then a's times put
    // back to the nanosecond (touch -r from a copy that kept them): only the ctime still differs.
    const reference = join(root, 'reference');
    execFileSync('cp', ['-p', a, reference]);
    await copyFile(pathOf(root, 'k/0011'), a);
    execFileSync('touch', ['-r', reference, a]);
    expect((await stat(a, { bigint: true })).mtimeNs).toBe((await stat(reference, { bigint: true })).mtimeNs);
    const reads = store.listingReads;
    const after = await listAll(store);
    expect(store.listingReads - reads).toBe(1);
    // What a's file now holds is b's trailer: the listing says so, it does not vouch for a.
    expect(after.filter((o) => o.key === 'k/0011')).toHaveLength(2);
    expect(after.some((o) => o.key === 'k/0010')).toBe(false);
    expect(before.get('k/0010')?.etag).not.toBe(before.get('k/0011')?.etag);
  });

  it('a file truncated in place is no longer listed from the index', async () => {
    await listAll(store);
    const path = pathOf(root, 'k/0020');
    await truncate(path, 3);
    const after = await listAll(store).catch((err: unknown) => err);
    // The trailer is gone: the listing reports the file as unreadable instead of its old entry.
    expect(after).toBeInstanceOf(Error);
  });

  it('a garbage or foreign index is ignored and rewritten from the trailers', async () => {
    const first = await listAll(store);
    const shards = (await readdir(join(root, 'objects'))).filter((name) => !name.startsWith('.'));
    for (const shard of shards) await writeFile(join(root, 'objects', shard, '.index'), '{"h":"not json\n{"h":1}\n');
    const fresh = new LocalStore({ location: 'aws', root, durable: false });
    expect(await listAll(fresh)).toEqual(first);
    expect(fresh.listingReads).toBe(N);
    const again = new LocalStore({ location: 'aws', root, durable: false });
    expect(await listAll(again)).toEqual(first);
    expect(again.listingReads).toBe(0);
  });

  it('keeps the index compact: a scan rewrites an index that is mostly dead lines', async () => {
    await listAll(store);
    const key = 'k/0000';
    const index = join(pathOf(root, key), '..', '.index');
    const lines = async () => (await readFile(index, 'utf8')).split('\n').filter(Boolean).length;
    const live = (await readdir(join(pathOf(root, key), '..'))).filter((name) => !name.startsWith('.')).length;
    // Each tier change is a new file: the next listing reads it and indexes it again.
    let most = 0;
    for (let round = 0; round < 150; round += 1) {
      await store.setTier(key, round % 2 === 0 ? 'cool' : 'hot');
      await store.listPage('k/0000');
      most = Math.max(most, await lines());
    }
    expect(most).toBeLessThanOrEqual(2 * live + 64 + 1);
    const restarted = new LocalStore({ location: 'aws', root, durable: false });
    expect((await listAll(restarted)).find((o) => o.key === key)?.tier).toBe('hot');
    expect(restarted.listingReads).toBe(0);
  });
});

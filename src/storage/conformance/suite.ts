/**
 * The storage conformance suite (rclone's fstest/fstests is the model): every adapter runs
 * exactly these tests against its real server, through one call from a few-line test file:
 *
 *   runStoreConformance({ name: 's3', open: (container) => new S3Store({...}) });
 *
 * A case the server cannot exercise is skipped with a stated reason, never silently passed.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorageError } from '../errors.ts';
import { keyComparator } from '../keys.ts';
import { listAll, listSharded } from '../list.ts';
import { LIST_PAGE_MAX, type Checksums, type ObjectStore } from '../port.ts';
import { bufferBody, digestStream, generatedBody, type Digest } from './body.ts';

const MiB = 1024 * 1024;

export interface Skip {
  readonly skip: string;
}

export interface StoppedServer {
  /** A store whose server was running, held data, and has now been stopped. */
  readonly store: ObjectStore;
  /** Restart or clean up whatever the factory started. */
  cleanup(): Promise<void>;
}

export interface StoreConformanceOptions {
  readonly name: string;
  /** Open the adapter on `container` (which may not exist yet). */
  open(container: string): ObjectStore | Promise<ObjectStore>;
  /** Open the adapter with credentials the server rejects. */
  readonly badCredentials?: ((container: string) => ObjectStore | Promise<ObjectStore>) | Skip;
  /** Open the adapter against a server that has been stopped. */
  readonly stoppedServer?: ((container: string) => Promise<StoppedServer>) | Skip;
  /** Size of the large streamed object (default 160 MiB; at least 100 MiB). */
  readonly largeObjectBytes?: number;
  /** Largest RSS growth tolerated while moving the large object (default 96 MiB). */
  readonly memoryBudgetBytes?: number;
  /** Objects created for the pagination test (default 1050: past one 1000-key page). */
  readonly paginationObjects?: number;
  /**
   * The server answers a page of more than 1000 when asked (Azure: up to 5000; fake-gcs-server,
   * though real GCS stops at 1000), so a walk asking LIST_PAGE_MAX gets the pagination objects in
   * one page. Default false: only pages of at least 1000 are required.
   */
  readonly widePages?: boolean;
  /** Bucket / container the tests use (default `mdconf`). */
  readonly container?: string;
  /**
   * Known limits of the server under test that real providers do not have, each with its
   * reason; the case is skipped and the reason shown. `fileAndDirectory`: `a` and `a/b` cannot
   * both be listed (MinIO). `prefixesOverLimit`: a delimited page's limit bounds its items only,
   * the prefixes come on top (S3, Azure and GCS count both).
   */
  readonly serverLimits?: { readonly fileAndDirectory?: string; readonly prefixesOverLimit?: string };
}

function skipReason(value: object | undefined): string | undefined {
  if (value === undefined) return 'not provided by this adapter test';
  return 'skip' in value ? (value as Skip).skip : undefined;
}

function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

async function expectStorageError(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a StorageError with code ${code}`).toBeDefined();
  expect(isStorageError(err), `expected a StorageError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

/** Every checksum the store reports must match the bytes; unreported kinds are fine. */
function expectChecksumsMatch(reported: Checksums, digest: Digest): void {
  for (const [kind, value] of Object.entries(reported)) {
    if (value === undefined) continue;
    expect(value, `${kind} checksum`).toBe(digest.checksums[kind as keyof Checksums]);
  }
}

/**
 * Samples this process's RSS while `work` runs; returns the peak growth in bytes. Garbage is
 * collected before each sample (when --expose-gc is on), so the figure is what the transfer
 * holds, not the test's own discarded buffers waiting for a lazy collection.
 */
async function peakRssGrowth(work: () => Promise<void>): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    gc?.();
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return peak - baseline;
}

export function runStoreConformance(options: StoreConformanceOptions): void {
  const largeBytes = options.largeObjectBytes ?? 160 * MiB;
  const memoryBudget = options.memoryBudgetBytes ?? 96 * MiB;
  const paginationCount = options.paginationObjects ?? 1050;

  describe(`storage conformance: ${options.name}`, () => {
    const container = options.container ?? 'mdconf';
    const prefix = `${uniqueName('run')}/`;
    let store: ObjectStore;
    // Listings come back in the store's declared order (byte order unless it says UTF-16).
    const compareKeys = (a: string, b: string): number => keyComparator(store.features.listOrder)(a, b);

    beforeAll(async () => {
      store = await options.open(container);
      await store.ensureContainer();
    });

    afterAll(async () => {
      if (!store) return;
      const keys: string[] = [];
      for await (const item of listAll(store, prefix)) keys.push(item.key);
      for (let i = 0; i < keys.length; i += 32) await Promise.all(keys.slice(i, i + 32).map((k) => store.delete(k)));
      await store.close();
    });

    describe('containers', () => {
      it('creates a missing container, and creating it again is a no-op', async () => {
        const fresh = await options.open(uniqueName('mdconf-new'));
        try {
          await expectStorageError(fresh.ping(), 'not_found');
          await fresh.ensureContainer();
          await fresh.ensureContainer();
          await fresh.ping();
          const page = await fresh.listPage('');
          expect(page.items).toEqual([]);
          expect(page.nextCursor).toBeUndefined();
        } finally {
          await fresh.close();
        }
      });

      it('declares coherent features', () => {
        expect(store.features.multipartThreshold).toBeGreaterThan(0);
        expect(store.features.copy).toBe(typeof store.copy === 'function');
        expect(store.features.tiers.length > 0).toBe(typeof store.setTier === 'function');
      });
    });

    describe('put, get and head', () => {
      const sizes: Array<[string, number]> = [
        ['zero-length', 0],
        ['1-byte', 1],
        ['5 MiB + 1', 5 * MiB + 1],
      ];
      for (const [label, size] of sizes) {
        for (const announced of [true, false]) {
          it(`round-trips a ${label} object (${announced ? 'size announced' : 'size unknown'})`, async () => {
            const key = `${prefix}sizes/${label}-${announced ? 'known' : 'unknown'}`;
            const body = generatedBody(size);
            const put = await store.put(key, body.stream, announced ? { size } : {});
            const sent = await body.digest;
            expect(put.key).toBe(key);
            expect(put.size).toBe(size);
            expectChecksumsMatch(put.checksums, sent);

            const head = await store.head(key);
            expect(head.key).toBe(key);
            expect(head.size).toBe(size);
            expectChecksumsMatch(head.checksums, sent);

            const got = await store.get(key);
            expect(got.info.size).toBe(size);
            const received = await digestStream(got.body);
            expect(received.size).toBe(size);
            expect(received.sha256).toBe(sent.sha256);
          });
        }
      }

      it('reports at least one correct provider checksum for a small object', async () => {
        if (store.features.checksums.length === 0) return;
        const key = `${prefix}checksums/small`;
        const body = bufferBody('checksum me, please');
        await store.put(key, body.stream, { size: body.bytes.length });
        const head = await store.head(key);
        const reported = Object.entries(head.checksums).filter(([, v]) => v !== undefined);
        expect(reported.length).toBeGreaterThan(0);
        expectChecksumsMatch(head.checksums, body.digest);
      });

      it('keeps content type and user metadata', async () => {
        const key = `${prefix}meta/with-metadata.json`;
        const body = bufferBody('{"hello":"world"}');
        await store.put(key, body.stream, { contentType: 'application/json', metadata: { 'plaintext-sha256': body.digest.sha256, owner: 'conformance' } });
        const head = await store.head(key);
        expect(head.contentType).toBe('application/json');
        expect(head.metadata['plaintext-sha256']).toBe(body.digest.sha256);
        expect(head.metadata['owner']).toBe('conformance');
        const got = await store.get(key);
        expect(got.info.metadata['owner']).toBe('conformance');
        got.body.resume();
      });

      it(`streams a ${Math.round(largeBytes / MiB)} MiB object of unknown size in bounded memory`, { timeout: 600_000 }, async () => {
        expect(largeBytes).toBeGreaterThanOrEqual(100 * MiB);
        const key = `${prefix}large/object.bin`;
        const body = generatedBody(largeBytes);
        const putGrowth = await peakRssGrowth(async () => {
          await store.put(key, body.stream);
        });
        const sent = await body.digest;
        let received: Digest | undefined;
        const getGrowth = await peakRssGrowth(async () => {
          const got = await store.get(key);
          received = await digestStream(got.body);
        });
        expect(received?.size).toBe(largeBytes);
        expect(received?.sha256).toBe(sent.sha256);
        const head = await store.head(key);
        expect(head.size).toBe(largeBytes);
        expectChecksumsMatch(head.checksums, sent);
        expect(putGrowth, `RSS grew ${Math.round(putGrowth / MiB)} MiB during put`).toBeLessThan(memoryBudget);
        expect(getGrowth, `RSS grew ${Math.round(getGrowth / MiB)} MiB during get`).toBeLessThan(memoryBudget);
      });

      it('fails a put whose body errors, and leaves no object behind', async () => {
        const key = `${prefix}aborted/object`;
        let chunks = 0;
        const failing = new Readable({
          read() {
            // enough bytes to have started a multipart / block / resumable upload
            chunks += 1;
            if (chunks > 7) this.destroy(new Error('source failed mid-stream'));
            else this.push(randomBytes(MiB));
          },
        });
        await expect(store.put(key, failing)).rejects.toThrow();
        await expectStorageError(store.head(key), 'not_found');
      });

      it('rejects a body shorter than its announced size, and stores nothing', async () => {
        const key = `${prefix}short/object`;
        await expect(store.put(key, Readable.from([Buffer.from('only eleven')]), { size: 100 })).rejects.toThrow();
        await expectStorageError(store.head(key), 'not_found');
      });

      it('rejects a body shorter than an announced size past the multipart threshold, and stores nothing', async () => {
        const key = `${prefix}short/large-announced`;
        const size = store.features.multipartThreshold * 2;
        await expect(store.put(key, Readable.from([Buffer.alloc(MiB, 1)]), { size })).rejects.toThrow();
        await expectStorageError(store.head(key), 'not_found');
      });
    });

    describe('keys', () => {
      const longAscii = `${prefix}long/`.padEnd(1024, 'k');
      const longUnicode = `${prefix}long-unicode/` + 'é'.repeat((1024 - Buffer.byteLength(`${prefix}long-unicode/`)) >> 1);
      const keys = [
        `${prefix}keys/with space.txt`,
        `${prefix}keys/  leading and trailing spaces  `,
        `${prefix}keys/plus+sign+plus`,
        `${prefix}keys/percent%20literal%`,
        `${prefix}keys/query?hash#amp&eq=semi;colon:at@`,
        `${prefix}keys/ünïcödé/日本語/😀.bin`,
        `${prefix}keys/combining e\u0301 vs \u00e9`,
        `${prefix}keys/` + Array.from({ length: 40 }, (_, i) => `d${i}`).join('/') + '/deep.txt',
        `${prefix}keys/dots/../and/./segments`,
        `${prefix}keys/double//slash`,
        longAscii,
        longUnicode,
      ];

      it('round-trips keys with spaces, +, %, unicode, deep paths and 1024 bytes, exactly', async () => {
        expect(Buffer.byteLength(longAscii)).toBe(1024);
        expect(Buffer.byteLength(longUnicode)).toBeLessThanOrEqual(1024);
        // A key the server cannot hold must be refused up front, with the reason, never mangled.
        const refused = keys.filter((key) => store.keyProblem?.(key) !== undefined);
        for (const key of refused) {
          await expectStorageError(store.put(key, Readable.from([Buffer.from('x')]), { size: 1 }), 'invalid_key');
          await expectStorageError(store.head(key), 'invalid_key');
        }
        const stored = keys.filter((key) => !refused.includes(key));
        for (const key of stored) {
          const body = bufferBody(`content of ${key}`);
          await store.put(key, body.stream, { size: body.bytes.length });
        }
        for (const key of stored) {
          const got = await store.get(key);
          const received = await digestStream(got.body, { keep: true });
          expect(received.bytes?.toString('utf8'), key).toBe(`content of ${key}`);
          expect((await store.head(key)).key).toBe(key);
        }
        const listed: string[] = [];
        for await (const item of listAll(store, `${prefix}keys/`)) listed.push(item.key);
        const expected = stored.filter((k) => k.startsWith(`${prefix}keys/`)).sort(compareKeys);
        expect(listed).toEqual(expected);
        const long: string[] = [];
        for await (const item of listAll(store, `${prefix}long`)) long.push(item.key);
        expect(long.sort(compareKeys)).toEqual(stored.filter((k) => k === longAscii || k === longUnicode).sort(compareKeys));
      });

      const fileAndDirectory = options.serverLimits?.fileAndDirectory;
      it.skipIf(fileAndDirectory !== undefined)(`keeps \`a\` and \`a/b\` as two objects, both listed${fileAndDirectory ? ` (skipped: ${fileAndDirectory})` : ''}`, async () => {
        const pair = [`${prefix}pair/dir`, `${prefix}pair/dir/child`, `${prefix}pair/dir-sibling`];
        for (const key of pair) await store.put(key, Readable.from([Buffer.from(key)]), { size: Buffer.byteLength(key) });
        const listed: string[] = [];
        for await (const item of listAll(store, `${prefix}pair/`)) listed.push(item.key);
        expect(listed).toEqual([...pair].sort(compareKeys));
        for (const key of pair) expect((await digestStream((await store.get(key)).body, { keep: true })).bytes?.toString()).toBe(key);
      });

      it('rejects empty, over-long and control-character keys with invalid_key', async () => {
        for (const bad of ['', `${prefix}`.padEnd(1025, 'x'), `${prefix}nul\u0000byte`, `${prefix}line\nfeed`]) {
          await expectStorageError(store.put(bad, Readable.from([Buffer.from('x')]), { size: 1 }), 'invalid_key');
          await expectStorageError(store.head(bad), 'invalid_key');
        }
      });
    });

    describe('ranges', () => {
      const key = `${prefix}ranges/object`;
      const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => String.fromCharCode(33 + (i % 90))).join(''));

      beforeAll(async () => {
        const body = bufferBody(content);
        await store.put(key, body.stream, { size: content.length });
      });

      const cases: Array<[string, { start: number; end?: number }, number, number]> = [
        ['first byte', { start: 0, end: 0 }, 0, 0],
        ['a middle slice', { start: 10, end: 19 }, 10, 19],
        ['an open-ended tail', { start: 990 }, 990, 999],
        ['the last byte', { start: 999, end: 999 }, 999, 999],
        ['an end past the object (clamped)', { start: 995, end: 5000 }, 995, 999],
      ];
      for (const [label, range, start, end] of cases) {
        it(`serves ${label}`, async () => {
          const got = await store.get(key, { range });
          expect(got.range).toEqual({ start, end });
          expect(got.info.size).toBe(content.length);
          const received = await digestStream(got.body, { keep: true });
          expect(received.bytes?.equals(content.subarray(start, end + 1))).toBe(true);
        });
      }

      it('refuses a range that starts past the end with range_not_satisfiable', async () => {
        await expectStorageError(store.get(key, { range: { start: 1000 } }), 'range_not_satisfiable');
      });

      it('serves a range of a multipart-sized object', async () => {
        const bigKey = `${prefix}ranges/big`;
        const size = 6 * MiB + 123;
        const body = generatedBody(size);
        await store.put(bigKey, body.stream);
        await body.digest;
        const whole = await digestStream((await store.get(bigKey)).body, { keep: true });
        const start = 5 * MiB - 7;
        const end = 6 * MiB + 5;
        const got = await store.get(bigKey, { range: { start, end } });
        const received = await digestStream(got.body, { keep: true });
        expect(received.bytes?.equals(whole.bytes!.subarray(start, end + 1))).toBe(true);
      });
    });

    describe('listing', () => {
      const listPrefix = `${prefix}many/`;
      const expected: string[] = [];

      beforeAll(async () => {
        for (let i = 0; i < paginationCount; i++) expected.push(`${listPrefix}${String(i).padStart(5, '0')}-${i % 7}`);
        const queue = [...expected];
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
              await store.put(key, Readable.from([Buffer.from(key)]), { size: Buffer.byteLength(key) });
            }
          }),
        );
        // a neighbour that shares the start of the prefix must not leak into the listing
        await store.put(`${prefix}many-not-this/x`, Readable.from([Buffer.from('x')]), { size: 1 });
        expected.sort(compareKeys);
      }, 600_000);

      it(`pages past 1000 keys with the default page size`, async () => {
        const first = await store.listPage(listPrefix);
        expect(first.items.length).toBeGreaterThan(0);
        expect(first.items.length).toBeLessThanOrEqual(1000);
        expect(first.nextCursor).toBeDefined();
        const all: string[] = [];
        for await (const item of listAll(store, listPrefix)) all.push(item.key);
        expect(all).toEqual(expected);
      });

      it('a limit over 1000 gives pages no smaller than the default, capped at the provider maximum', async () => {
        const big = await store.listPage(listPrefix, { limit: LIST_PAGE_MAX });
        expect(big.items.length).toBeLessThanOrEqual(LIST_PAGE_MAX);
        // Either the server stops at 1000 (S3, GCS) or the page holds all of them (widePages: Azure, fake-gcs-server).
        if (options.widePages === true) expect(big.nextCursor).toBeUndefined();
        if (big.nextCursor === undefined) expect(big.items.map((i) => i.key)).toEqual(expected);
        else expect(big.items.length).toBeGreaterThanOrEqual(1000);
        const all: string[] = [];
        for await (const item of listAll(store, listPrefix, { pageSize: LIST_PAGE_MAX })) all.push(item.key);
        expect(all).toEqual(expected);
      });

      it('pages with a small limit, every key exactly once, in listing order, with sizes', async () => {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listPage(listPrefix, { limit: 100, cursor });
          expect(page.items.length).toBeLessThanOrEqual(100);
          for (const item of page.items) {
            seen.push(item.key);
            expect(item.size).toBe(Buffer.byteLength(item.key));
          }
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined);
        expect(pages).toBeGreaterThanOrEqual(Math.ceil(paginationCount / 100));
        expect(seen).toEqual(expected);
      });

      it('reports the same etag from put, head and the listing (bare, without quotes)', async () => {
        const key = `${prefix}etag/object`;
        const body = bufferBody('etag check');
        const put = await store.put(key, body.stream, { size: body.bytes.length });
        const head = await store.head(key);
        const listed = (await store.listPage(`${prefix}etag/`)).items.find((i) => i.key === key);
        expect(listed).toBeDefined();
        const etags = [put.etag, head.etag, listed?.etag].filter((e): e is string => e !== undefined);
        for (const etag of etags) expect(etag).not.toMatch(/^(W\/)?"/);
        expect(new Set(etags).size).toBeLessThanOrEqual(1);
        await store.delete(key);
      });

      it('reports from a put what head reports: size, checksums and tier (single and multipart)', async () => {
        const threshold = store.features.multipartThreshold;
        const sizes = [1234, ...(Number.isFinite(threshold) && threshold <= 32 * MiB ? [threshold + 1] : [])];
        for (const [i, size] of sizes.entries()) {
          const key = `${prefix}put-result/${i}`;
          const body = generatedBody(size);
          const put = await store.put(key, body.stream, { size });
          const head = await store.head(key);
          expect(put.size, key).toBe(size);
          expect(head.size, key).toBe(size);
          for (const [kind, value] of Object.entries(put.checksums)) {
            const reported = head.checksums[kind as keyof Checksums];
            if (reported !== undefined) expect(value, `${key} ${kind}`).toBe(reported);
          }
          expect(Object.keys(put.checksums).length, key).toBeGreaterThan(0);
          if (put.tier !== undefined) expect(put.tier, key).toBe(head.tier);
          await store.delete(key);
        }
      });

      it('lists nothing for a prefix with no objects', async () => {
        const page = await store.listPage(`${prefix}nothing-here/`);
        expect(page.items).toEqual([]);
        expect(page.nextCursor).toBeUndefined();
      });
    });

    describe('one-level (delimited) listing', () => {
      const prefixesOverLimit = options.serverLimits?.prefixesOverLimit;
      const tree = `${prefix}tree/`;
      // Objects at the top, in directories, nested directories, and directory names that need
      // encoding somewhere (space, plus, non-ASCII, a trailing dot: Azure's blob names).
      const objects = ['a', 'e', 'plus+one', 'b/1', 'b/2', 'b/c/3', 'd/4', 'sp ace/5', 'ü/6', 'dot./7', 'deep/x/y/z/8'].map((k) => `${tree}${k}`);
      const topItems = ['a', 'e', 'plus+one'].map((k) => `${tree}${k}`);
      const topPrefixes = ['b/', 'd/', 'sp ace/', 'ü/', 'dot./', 'deep/'].map((k) => `${tree}${k}`);

      beforeAll(async () => {
        await Promise.all(objects.map((key) => store.put(key, Readable.from([Buffer.from(key)]), { size: Buffer.byteLength(key) })));
      });

      async function level(at: string, limit?: number): Promise<{ items: string[]; prefixes: string[]; pages: number }> {
        const items: string[] = [];
        const prefixes: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listPage(at, { delimiter: '/', ...(limit === undefined ? {} : { limit }), ...(cursor === undefined ? {} : { cursor }) });
          if (limit !== undefined) expect(page.items.length + (prefixesOverLimit === undefined ? (page.prefixes?.length ?? 0) : 0)).toBeLessThanOrEqual(limit);
          items.push(...page.items.map((i) => i.key));
          prefixes.push(...(page.prefixes ?? []));
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined);
        return { items, prefixes, pages };
      }

      it('lists the objects of one level and rolls everything below into prefixes', async () => {
        const top = await level(tree);
        expect(top.items).toEqual([...topItems].sort(compareKeys));
        expect([...top.prefixes].sort(compareKeys)).toEqual([...topPrefixes].sort(compareKeys));
        const b = await level(`${tree}b/`);
        expect(b.items).toEqual([`${tree}b/1`, `${tree}b/2`]);
        expect(b.prefixes).toEqual([`${tree}b/c/`]);
        expect(await level(`${tree}dot./`)).toMatchObject({ items: [`${tree}dot./7`], prefixes: [] });
        // A prefix that ends inside a segment rolls up whole segments that start with it.
        const d = await level(`${tree}d`);
        expect(d.items).toEqual([]);
        expect([...d.prefixes].sort(compareKeys)).toEqual([`${tree}d/`, `${tree}deep/`, `${tree}dot./`].sort(compareKeys));
      });

      it(`pages a delimited listing: items and prefixes share the limit${prefixesOverLimit ? ` (prefixes over it: ${prefixesOverLimit})` : ''}, each comes once`, async () => {
        const paged = await level(tree, 2);
        expect(paged.pages).toBeGreaterThanOrEqual(Math.ceil((topItems.length + (prefixesOverLimit === undefined ? topPrefixes.length : 0)) / 2));
        expect([...paged.items].sort(compareKeys)).toEqual([...topItems].sort(compareKeys));
        expect([...paged.prefixes].sort(compareKeys)).toEqual([...topPrefixes].sort(compareKeys));
      });

      it('lists every object exactly once through a sharded listing, however it is split', async () => {
        const variants = [{}, { concurrency: 2, maxDepth: 5 }, { concurrency: 3, maxShards: 2 }, { maxDepth: 0 }, { concurrency: 1 }];
        for (const variant of variants) {
          const seen: string[] = [];
          const count = await listSharded(store, tree, (object) => {
            seen.push(object.key);
            expect(object.size, object.key).toBe(Buffer.byteLength(object.key));
          }, variant);
          expect(count, JSON.stringify(variant)).toBe(objects.length);
          expect([...seen].sort(compareKeys), JSON.stringify(variant)).toEqual([...objects].sort(compareKeys));
        }
      });
    });

    describe('overwrite, delete and not-found', () => {
      it('replaces an object on overwrite', async () => {
        const key = `${prefix}overwrite/object`;
        const first = bufferBody('first version, longer than the second');
        await store.put(key, first.stream, { size: first.bytes.length });
        const second = bufferBody('second');
        await store.put(key, second.stream, { size: second.bytes.length });
        const head = await store.head(key);
        expect(head.size).toBe(second.bytes.length);
        const got = await digestStream((await store.get(key)).body, { keep: true });
        expect(got.bytes?.toString()).toBe('second');
      });

      it('deletes, reports not_found afterwards, and deleting again succeeds', async () => {
        const key = `${prefix}delete/object`;
        const body = bufferBody('to be deleted');
        await store.put(key, body.stream, { size: body.bytes.length });
        await store.delete(key);
        await expectStorageError(store.head(key), 'not_found');
        await expectStorageError(store.get(key), 'not_found');
        await store.delete(key);
        const page = await store.listPage(`${prefix}delete/`);
        expect(page.items.map((i) => i.key)).not.toContain(key);
      });

      it('reports not_found for a key that never existed, on get, ranged get and head', async () => {
        const key = `${prefix}missing/${randomBytes(4).toString('hex')}`;
        await expectStorageError(store.get(key), 'not_found');
        await expectStorageError(store.get(key, { range: { start: 0, end: 10 } }), 'not_found');
        await expectStorageError(store.head(key), 'not_found');
      });
    });

    describe('concurrency', () => {
      it('leaves exactly one whole version when writers race on one key', async () => {
        const key = `${prefix}race/object`;
        const writers = Array.from({ length: 8 }, (_, i) => bufferBody(Buffer.alloc(256 * 1024 + i * 1000, 65 + i)));
        await Promise.all(writers.map((w) => store.put(key, w.stream, { size: w.bytes.length })));
        const got = await digestStream((await store.get(key)).body);
        const winner = writers.find((w) => w.digest.sha256 === got.sha256);
        expect(winner, 'the stored object is one writer’s complete body').toBeDefined();
        expect((await store.head(key)).size).toBe(winner!.bytes.length);
      });

      it('writes many keys concurrently without losing any', async () => {
        const keys = Array.from({ length: 40 }, (_, i) => `${prefix}parallel/${i}`);
        await Promise.all(keys.map((key) => store.put(key, Readable.from([Buffer.from(key)]), { size: Buffer.byteLength(key) })));
        const listed: string[] = [];
        for await (const item of listAll(store, `${prefix}parallel/`)) listed.push(item.key);
        expect(listed).toEqual([...keys].sort(compareKeys));
      });

      it('survives a reader that stops early', async () => {
        const key = `${prefix}early-stop/object`;
        const body = generatedBody(4 * MiB);
        await store.put(key, body.stream);
        for (let i = 0; i < 12; i++) {
          const got = await store.get(key);
          await new Promise<void>((resolve) => {
            got.body.once('data', () => {
              got.body.destroy();
              resolve();
            });
          });
        }
        expect((await store.head(key)).size).toBe(4 * MiB);
      });
    });

    describe('copy and tiers', () => {
      it('copies server-side, keeping the source', async () => {
        if (!store.copy) return expect(store.features.copy).toBe(false);
        const source = `${prefix}copy/source`;
        const target = `${prefix}copy/target`;
        const body = bufferBody('copy me');
        await store.put(source, body.stream, { size: body.bytes.length, metadata: { owner: 'copy-test' } });
        const info = await store.copy(source, target);
        expect(info.key).toBe(target);
        expect(info.size).toBe(body.bytes.length);
        const got = await digestStream((await store.get(target)).body);
        expect(got.sha256).toBe(body.digest.sha256);
        expect((await store.head(target)).metadata['owner']).toBe('copy-test');
        expect((await store.head(source)).size).toBe(body.bytes.length);
        await expectStorageError(store.copy(`${prefix}copy/missing`, `${prefix}copy/nowhere`), 'not_found');
      });

      it('writes into a tier and changes it in place without touching the content', async () => {
        const online = store.features.tiers.filter((t) => !t.offline);
        if (!store.setTier || online.length < 2) return expect(store.features.tiers.length === 0 || online.length >= 1).toBe(true);
        const [first, second] = [online[0]!.name, online[1]!.name];
        const key = `${prefix}tiers/object`;
        const body = bufferBody('tiered content');
        await store.put(key, body.stream, { size: body.bytes.length, tier: second });
        expect((await store.head(key)).tier).toBe(second);
        await store.setTier(key, first);
        expect((await store.head(key)).tier).toBe(first);
        await store.setTier(key, second);
        const head = await store.head(key);
        expect(head.tier).toBe(second);
        const got = await digestStream((await store.get(key)).body);
        expect(got.sha256).toBe(body.digest.sha256);
        await expectStorageError(store.setTier(`${prefix}tiers/missing`, first), 'not_found');
        await expect(store.setTier(key, 'NO_SUCH_TIER')).rejects.toMatchObject({ code: 'invalid_argument' });
      });
    });

    describe('failures', () => {
      const bad = options.badCredentials;
      const badSkip = skipReason(bad);
      it.skipIf(badSkip !== undefined)(`maps wrong credentials to access_denied${badSkip ? ` (skipped: ${badSkip})` : ''}`, async () => {
        const denied = await (bad as (c: string) => ObjectStore | Promise<ObjectStore>)(container);
        try {
          // One call at a time: a call started early could fail unobserved.
          for (const attempt of [() => denied.ping(), () => denied.head(`${prefix}keys/with space.txt`), () => denied.put(`${prefix}denied`, Readable.from([Buffer.from('x')]), { size: 1 })]) {
            const err = await attempt().then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(isStorageError(err, 'access_denied'), `got ${String(err)}`).toBe(true);
            expect((err as { retryable: boolean }).retryable).toBe(false);
          }
        } finally {
          await denied.close();
        }
      });

      const stopped = options.stoppedServer;
      const stoppedSkip = skipReason(stopped);
      it.skipIf(stoppedSkip !== undefined)(`maps a stopped server to unavailable, retryable${stoppedSkip ? ` (skipped: ${stoppedSkip})` : ''}`, { timeout: 180_000 }, async () => {
        const server = await (stopped as (c: string) => Promise<StoppedServer>)(container);
        try {
          for (const attempt of [() => server.store.ping(), () => server.store.head('any/key'), () => server.store.put('any/key', Readable.from([Buffer.from('x')]), { size: 1 })]) {
            const err = await attempt().then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(isStorageError(err, 'unavailable'), `got ${String(err)}`).toBe(true);
            expect((err as { retryable: boolean }).retryable).toBe(true);
          }
        } finally {
          await server.store.close();
          await server.cleanup();
        }
      });
    });
  });
}

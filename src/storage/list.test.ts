import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { listSharded } from './list.ts';
import { LocalStore } from './local/local-store.ts';
import { LIST_PAGE_MAX, type ListOptions, type ListPage, type ObjectStore } from './port.ts';

/** The store, counting its list requests: flat ones and delimited ones, by prefix, and the page sizes asked for. */
function counting(store: ObjectStore): { store: ObjectStore; flat: string[]; delimited: string[]; limits: Array<number | undefined> } {
  const flat: string[] = [];
  const delimited: string[] = [];
  const limits: Array<number | undefined> = [];
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'listPage') {
        return (prefix: string, options: ListOptions = {}): Promise<ListPage> => {
          (options.delimiter === undefined ? flat : delimited).push(prefix);
          limits.push(options.limit);
          return target.listPage(prefix, options);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counted, flat, delimited, limits };
}

describe('listSharded', () => {
  const store = new LocalStore({ location: 'list', root: mkdtempSync(join(tmpdir(), 'movingdata-list-')) });
  // 20 top-level prefixes of 3 objects each, one of them two levels deep, and 2 objects at the top.
  const keys = [
    ...Array.from({ length: 20 }, (_, d) => [0, 1, 2].map((o) => `d${String(d).padStart(2, '0')}/${d === 7 ? 'deep/' : ''}o${o}`)).flat(),
    'top-a',
    'top-b',
  ];

  beforeAll(async () => {
    await store.ensureContainer();
    for (const key of keys) await store.put(key, Readable.from([Buffer.from(key)]), { size: Buffer.byteLength(key) });
  });

  async function run(options: Parameters<typeof listSharded>[3]) {
    const probe = counting(store);
    const seen: string[] = [];
    const count = await listSharded(probe.store, '', (object) => seen.push(object.key), options);
    return { count, seen: seen.sort(), flat: probe.flat, delimited: probe.delimited, limits: probe.limits };
  }

  it('finds the top-level prefixes with one delimited listing, then lists each of them flat, in the largest pages', async () => {
    const { count, seen, flat, delimited, limits } = await run({ concurrency: 8 });
    expect(limits).toEqual(Array.from({ length: 21 }, () => LIST_PAGE_MAX));
    expect(count).toBe(keys.length);
    expect(seen).toEqual([...keys].sort());
    expect(delimited).toEqual(['']);
    expect(flat.sort()).toEqual(Array.from({ length: 20 }, (_, d) => `d${String(d).padStart(2, '0')}/`));
  });

  it('descends while there are fewer prefixes than listings to keep busy', async () => {
    const probe = counting(store);
    const seen: string[] = [];
    await listSharded(probe.store, 'd07/', (object) => seen.push(object.key), { concurrency: 4 });
    expect(seen.sort()).toEqual(['d07/deep/o0', 'd07/deep/o1', 'd07/deep/o2']);
    // d07/ has one prefix (too few for 4 listings): it goes one level further, finds none left.
    expect(probe.delimited).toEqual(['d07/', 'd07/deep/']);
    expect(probe.flat).toEqual([]);
  });

  it('lists a level flat when it has more prefixes than maxShards, without listing anything twice', async () => {
    const { count, seen, flat, delimited } = await run({ concurrency: 8, maxShards: 10 });
    expect(count).toBe(keys.length);
    expect(seen).toEqual([...keys].sort());
    expect(delimited).toEqual(['']);
    expect(flat).toEqual(['']);
  });

  it('is one flat listing with one listing at a time', async () => {
    const { seen, flat, delimited } = await run({ concurrency: 1 });
    expect(seen).toEqual([...keys].sort());
    expect(delimited).toEqual([]);
    expect(flat).toEqual(['']);
  });

  it('stops at the first failure', async () => {
    const failing = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'listPage') {
          return (prefix: string, options?: ListOptions): Promise<ListPage> => (prefix === 'd03/' ? Promise.reject(new Error('listing refused')) : target.listPage(prefix, options));
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await expect(listSharded(failing, '', () => undefined, { concurrency: 2 })).rejects.toThrow('listing refused');
  });
});

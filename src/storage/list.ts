import { LIST_PAGE_MAX, type ListedObject, type ObjectStore } from './port.ts';

/**
 * Every object under `prefix`, page after page, in the store's (byte) order. Pages are as large
 * as the store gives (`pageSize`, default LIST_PAGE_MAX): fewer requests, and some servers
 * charge a request by the container, not by the page (Azurite even reads on past a page that
 * ends exactly at its limit, to see whether more follows).
 */
export async function* listAll(store: ObjectStore, prefix: string, options: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<ListedObject> {
  let cursor: string | undefined;
  do {
    const page = await store.listPage(prefix, { cursor, limit: options.pageSize ?? LIST_PAGE_MAX, signal: options.signal });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

export interface ShardedListOptions {
  /** Listings in flight at once (default 8, rclone's --checkers). */
  readonly concurrency?: number;
  /** Levels a listing may descend to find enough prefixes to share out (default 3). */
  readonly maxDepth?: number;
  /** More prefixes than this at one level and the level is listed flat instead (default 1000). */
  readonly maxShards?: number;
  readonly signal?: AbortSignal;
}

/**
 * Every object under `prefix`, listed as several listings at once, in no particular order; how
 * many objects were listed.
 *
 * A flat listing is one request after another (each page's cursor comes from the one before),
 * and some servers charge each page in proportion to the whole container (Azurite and
 * fake-gcs-server filter every object for every page). rclone walks directory by directory, 8 at
 * once; that costs a request per directory, however few objects it holds. Here the walk only
 * descends (one `/`-delimited listing per prefix) until there are enough prefixes to keep
 * `concurrency` listings busy, then lists each of those prefixes flat: requests ≈ objects / page
 * size + the prefixes of the levels descended. A level with more than `maxShards` prefixes (a
 * directory per object, say) would cost a request per prefix, so it is listed flat instead.
 */
export async function listSharded(store: ObjectStore, prefix: string, onObject: (object: ListedObject) => void, options: ShardedListOptions = {}): Promise<number> {
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const maxDepth = options.maxDepth ?? 3;
  const maxShards = options.maxShards ?? 1000;
  const signal = options.signal;
  let listed = 0;
  const emit = (object: ListedObject): void => {
    listed += 1;
    onObject(object);
  };
  const flat = async (from: string, keep: (key: string) => boolean = () => true): Promise<void> => {
    for await (const object of listAll(store, from, signal ? { signal } : {})) if (keep(object.key)) emit(object);
  };

  let frontier = [prefix];
  for (let depth = 0; depth < maxDepth && frontier.length < concurrency; depth++) {
    const parents = frontier;
    const next: string[] = [];
    await eachLimit(parents, concurrency, async (parent) => {
      let cursor: string | undefined;
      do {
        const page = await store.listPage(parent, { delimiter: '/', limit: LIST_PAGE_MAX, ...(cursor === undefined ? {} : { cursor }), ...(signal ? { signal } : {}) });
        for (const object of page.items) emit(object);
        next.push(...(page.prefixes ?? []));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    });
    if (next.length > maxShards) {
      // The objects right at each parent's level are listed already; the rest of it comes flat.
      await eachLimit(parents, concurrency, (parent) => flat(parent, (key) => key.includes('/', parent.length)));
      return listed;
    }
    frontier = next;
    if (frontier.length === 0) return listed;
  }
  await eachLimit(frontier, concurrency, (shard) => flat(shard));
  return listed;
}

/** `task` for every item, at most `limit` at once; the first failure rejects (the rest stop taking items). */
async function eachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

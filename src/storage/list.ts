import type { ListedObject, ObjectStore } from './port.ts';

/** Every object under `prefix`, page after page, in the store's (byte) order. */
export async function* listAll(store: ObjectStore, prefix: string, options: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<ListedObject> {
  let cursor: string | undefined;
  do {
    const page = await store.listPage(prefix, { cursor, limit: options.pageSize, signal: options.signal });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

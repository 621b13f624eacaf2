/**
 * Where a test finds the stored object of a key: each version lives under its own object name
 * (src/replication/object-names.ts), recorded on the replica. Tests that look at or tamper with
 * the bytes behind the API's back ask the metadata, as the product does.
 */
import type { MetadataOperations } from '../src/metadata/index.ts';
import { listAll } from '../src/storage/list.ts';
import type { ObjectStore } from '../src/storage/port.ts';

export async function storedKeyOf(metadata: Pick<MetadataOperations, 'liveReplicaAt'>, key: string, location: string): Promise<string> {
  const live = await metadata.liveReplicaAt(key, location);
  if (live === undefined) throw new Error(`no live copy of ${key} at ${location}`);
  return live.replica.objectKey;
}

/** Remove every object from a store's container: what earlier runs on this lab left there. */
export async function emptyContainer(store: ObjectStore): Promise<void> {
  const keys: string[] = [];
  for await (const object of listAll(store, '')) keys.push(object.key);
  for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((key) => store.delete(key)));
}

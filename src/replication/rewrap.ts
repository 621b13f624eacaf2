/**
 * Key rotation, step two (step one is src/crypto/keys/rotation.ts): re-wrap every copy at a
 * location to its active key, as a resumable job. Only age headers change; payloads are copied
 * byte for byte, never decrypted.
 *
 * The metadata matches what is stored at every moment a drift scan can look, with the same
 * rule as every write (object-names.ts): the re-wrapped copy goes to a new object name, then the
 * replica switches to it in one guarded transaction, then the old object goes.
 * 1. The new name is recorded on the replica (`params.rewrap_to`) before a byte is written, so
 *    a scan that lists it meanwhile knows whose it is;
 * 2. the switch records the new object (size, checksums, seal, key) and keeps the old name in
 *    `params.rewrap_from` until
 * 3. the old object is removed and the note cleared.
 * A crash anywhere leaves a replica that names every object of its own; the job, run again
 * (its lease runs out, another worker claims it), resumes from its saved cursor and finishes
 * what the crash left: it removes a half-written `rewrap_to`, or the `rewrap_from` the switch
 * left, and goes on.
 *
 * Copies are found in the metadata (what the location holds of ours), not by listing the
 * location: an object nobody recorded is an orphan for the drift scan to report, not ours to
 * re-seal. Fernet locations rotate too (new objects get the new key, old ones stay readable with
 * the old), but their tokens have no header to re-wrap: they are counted as skipped.
 */
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { EncryptedStore } from '../crypto/encrypted-store.ts';
import type { KeyProvider } from '../crypto/keys/port.ts';
import { isMovingDataError } from '../errors.ts';
import type { JsonObject, MetadataStore, Replica } from '../metadata/index.ts';
import { parseVersionObjectKey, versionObjectKey } from './object-names.ts';
import { sealedWith } from './replicator.ts';

export interface RewrapDeps {
  readonly keys: KeyProvider;
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  readonly metadata: MetadataStore;
  readonly audit: AuditTrail;
}

export interface RewrapProgress extends JsonObject {
  readonly location: string;
  readonly active_key_id: string;
  readonly rewrapped: number;
  readonly unchanged: number;
  readonly skipped: number;
  readonly failed: number;
  readonly failures: Array<{ key: string; code: string; message: string }>;
  /** The last replica handled (the listing's keyset cursor), for a resumed run. */
  readonly cursor: string | null;
  readonly done: boolean;
}

export interface RewrapContext {
  readonly signal?: AbortSignal;
  readonly progress?: JsonObject;
  readonly saveProgress?: (progress: JsonObject) => Promise<void>;
}

const MAX_REPORTED_FAILURES = 100;
const PAGE = 200;

/** Objects a replica names besides its own while a re-wrap is under way (see the header). */
export function rewrapCompanions(replica: Replica): string[] {
  const params = replica.encryption?.params ?? {};
  return ['rewrap_to', 'rewrap_from'].flatMap((name) => (typeof params[name] === 'string' ? [params[name]] : []));
}

/**
 * Crash injection for the crash-safety tests: with MOVINGDATA_CRASH_AFTER=rewrap:switch, the
 * process kills itself right after the first switch (new object recorded, old not yet removed).
 */
function crashPoint(point: string): void {
  if (process.env['MOVINGDATA_CRASH_AFTER'] === point) process.kill(process.pid, 'SIGKILL');
}

export async function rewrapLocation(deps: RewrapDeps, principal: string, location: string, context: RewrapContext = {}): Promise<RewrapProgress> {
  const store = deps.stores.get(location);
  if (store === undefined) throw new Error(`no store for location ${location}`);
  // The rotation may have happened in another process (the API server): read the keys again.
  const keys = await deps.keys.reload(location);
  const saved = context.progress ?? {};
  const resumed = saved['active_key_id'] === keys.active.id;
  let state: RewrapProgress = {
    location,
    active_key_id: keys.active.id,
    rewrapped: resumed ? Number(saved['rewrapped'] ?? 0) : 0,
    unchanged: resumed ? Number(saved['unchanged'] ?? 0) : 0,
    skipped: resumed ? Number(saved['skipped'] ?? 0) : 0,
    failed: resumed ? Number(saved['failed'] ?? 0) : 0,
    failures: resumed && Array.isArray(saved['failures']) ? (saved['failures'] as RewrapProgress['failures']) : [],
    cursor: resumed && typeof saved['cursor'] === 'string' ? saved['cursor'] : null,
    done: false,
  };
  let cursor = state.cursor ?? undefined;
  do {
    context.signal?.throwIfAborted();
    const page = await deps.metadata.listReplicasAtLocation(location, { states: ['verified'], limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
    const counts = { rewrapped: 0, unchanged: 0, skipped: 0, failed: 0 };
    const failures = [...state.failures];
    for (const replica of page.items) {
      try {
        counts[await rewrapOne(deps, store, principal, replica, keys.active.id, context.signal)] += 1;
      } catch (err) {
        if (context.signal?.aborted === true) throw err;
        counts.failed += 1;
        if (failures.length < MAX_REPORTED_FAILURES) {
          failures.push({ key: replica.objectKey, code: isMovingDataError(err) ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) });
        }
      }
    }
    cursor = page.nextCursor;
    state = {
      ...state,
      rewrapped: state.rewrapped + counts.rewrapped,
      unchanged: state.unchanged + counts.unchanged,
      skipped: state.skipped + counts.skipped,
      failed: state.failed + counts.failed,
      failures,
      cursor: cursor ?? null,
      done: cursor === undefined,
    };
    await context.saveProgress?.(state);
  } while (cursor !== undefined);
  return state;
}

async function rewrapOne(deps: RewrapDeps, store: EncryptedStore, principal: string, replica: Replica, activeKeyId: string, signal: AbortSignal | undefined): Promise<'rewrapped' | 'unchanged' | 'skipped'> {
  const { metadata } = deps;
  const location = replica.location;
  // What an earlier, crashed run left: an object half-written, or one switched away from.
  const leftovers = rewrapCompanions(replica);
  if (leftovers.length > 0) {
    for (const key of leftovers) await store.inner.delete(key, signal);
    const params = { ...(replica.encryption?.params ?? {}) };
    delete params['rewrap_to'];
    delete params['rewrap_from'];
    await metadata.transitionReplica(replica, { from: 'verified', to: 'verified', encryption: { ...replica.encryption!, params } });
    replica = await metadata.getReplica(replica);
    if (replica.state !== 'verified') return 'unchanged';
  }
  if (store.format !== 'age' || replica.encryption?.format === 'fernet') return 'skipped';
  if (replica.encryption?.keyIds[0] === activeKeyId) return 'unchanged';
  const fileKey = parseVersionObjectKey(replica.objectKey)?.key ?? replica.objectKey;
  const destination = versionObjectKey(fileKey, replica.version);
  const encryption = replica.encryption ?? { format: 'age' as const, keyIds: [] };
  const noted = await metadata.transitionReplica(replica, { from: 'verified', to: 'verified', encryption: { ...encryption, params: { ...(encryption.params ?? {}), rewrap_to: destination } } });
  if (!noted.applied) return 'unchanged';
  let result;
  try {
    result = await store.rewrap(replica.objectKey, destination, signal);
  } catch (err) {
    await store.inner.delete(destination).catch(() => undefined);
    await metadata.transitionReplica(replica, { from: 'verified', to: 'verified', encryption }).catch(() => undefined);
    if (isMovingDataError(err) && err.code === 'unsupported') return 'skipped';
    throw err;
  }
  if (!result.changed) {
    // Sealed with the active key already (the record was behind): the record learns it.
    await metadata.transitionReplica(replica, { from: 'verified', to: 'verified', encryption: { ...encryption, keyIds: [result.keyId] } });
    await store.inner.delete(destination).catch(() => undefined);
    return 'unchanged';
  }
  const switched = await metadata.transaction(async (tx) => {
    await tx.lockFile(replica.fileId);
    const row = await tx.getReplica(replica);
    if (row.state !== 'verified' || row.objectKey !== replica.objectKey) return false;
    await tx.transitionReplica(replica, {
      from: 'verified',
      to: 'verified',
      objectKey: destination,
      storedSize: result.storedSize,
      checksums: { ...result.put.checksums, ...(result.put.etag === undefined ? {} : { etag: result.put.etag }) },
      encryption: { ...sealedWith('age', result.to, result.sealSha256), params: { seal_sha256: result.sealSha256, rewrap_from: replica.objectKey } },
      lastError: null,
    });
    return true;
  });
  if (!switched) {
    // Superseded or deleted meanwhile: the re-wrapped object is nobody's.
    await store.inner.delete(destination, signal);
    return 'unchanged';
  }
  crashPoint('rewrap:switch');
  await deps.audit.keyUse({ principal, location, keyId: result.to, purpose: 'rewrap', objectKey: fileKey, details: { from: result.from, version: replica.version, object_key: destination } });
  await store.inner.delete(replica.objectKey, signal);
  await metadata.transitionReplica(
    { fileId: replica.fileId, version: replica.version, location },
    { from: 'verified', to: 'verified', encryption: sealedWith('age', result.to, result.sealSha256) },
  );
  return 'rewrapped';
}

/**
 * Key rotation for a location: make a new active key, then re-wrap every object's file key to
 * it. Only age headers change; payloads are copied byte for byte, never decrypted. Objects are
 * found by listing the location (what is there, whether or not the metadata knows it); each
 * re-wrap is a key use in the audit trail, and the replica records learn the new key id.
 *
 * Fernet locations rotate too (new objects get the new key, old ones stay readable with the
 * old), but their tokens have no header to re-wrap: they are reported as skipped.
 */
import type { AuditTrail } from '../../audit/audit-trail.ts';
import { isMovingDataError } from '../../errors.ts';
import type { MetadataStore } from '../../metadata/index.ts';
import { listAll } from '../../storage/list.ts';
import type { EncryptedStore } from '../encrypted-store.ts';
import type { KeyProvider } from './port.ts';

export interface RotationReport {
  readonly location: string;
  readonly previousKeyId: string;
  readonly activeKeyId: string;
  readonly rewrapped: number;
  readonly unchanged: number;
  readonly skipped: number;
  readonly failed: ReadonlyArray<{ readonly key: string; readonly code: string; readonly message: string }>;
}

export interface RotationDeps {
  readonly keys: KeyProvider;
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  readonly metadata: MetadataStore;
  readonly audit: AuditTrail;
}

const MAX_REPORTED_FAILURES = 100;

export async function rotateLocationKey(deps: RotationDeps, principal: string, location: string, options: { rewrap: boolean; signal?: AbortSignal }): Promise<RotationReport> {
  const store = deps.stores.get(location);
  const previous = deps.keys.keysFor(location).active;
  if (store === undefined) throw new Error(`no store for location ${location}`);
  await deps.audit.keyUse({ principal, location, keyId: previous.id, purpose: 'rotate', details: { phase: 'retire' } });
  const rotated = await deps.keys.rotate(location);
  await deps.audit.keyUse({ principal, location, keyId: rotated.active.id, purpose: 'rotate', details: { phase: 'activate', previous: previous.id } });

  let rewrapped = 0;
  let unchanged = 0;
  let skipped = 0;
  const failed: Array<{ key: string; code: string; message: string }> = [];
  if (options.rewrap) {
    for await (const item of listAll(store.inner, '', options.signal ? { signal: options.signal } : {})) {
      try {
        if (rotated.active.format !== 'age') {
          skipped += 1;
          continue;
        }
        const result = await store.rewrap(item.key, options.signal);
        if (!result.changed) {
          unchanged += 1;
          continue;
        }
        await deps.audit.keyUse({ principal, location, keyId: result.to, purpose: 'rewrap', objectKey: item.key, details: { from: result.from } });
        await recordNewKey(deps.metadata, location, item.key, result.to);
        rewrapped += 1;
      } catch (err) {
        if (isMovingDataError(err) && err.code === 'unsupported') {
          skipped += 1;
          continue;
        }
        if (failed.length < MAX_REPORTED_FAILURES) {
          failed.push({ key: item.key, code: isMovingDataError(err) ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) });
        }
      }
    }
  }
  return { location, previousKeyId: previous.id, activeKeyId: rotated.active.id, rewrapped, unchanged, skipped, failed };
}

/** The replica of the file's current version at this location now names the new key. */
async function recordNewKey(metadata: MetadataStore, location: string, key: string, keyId: string): Promise<void> {
  const file = await metadata.findFileByKey(key);
  if (file?.currentVersion == null) return;
  const replicas = await metadata.listReplicasOfVersion(file.id, file.currentVersion);
  const replica = replicas.find((r) => r.location === location);
  if (replica === undefined || replica.encryption === null) return;
  await metadata.transitionReplica(replica, { from: replica.state, to: replica.state, encryption: { ...replica.encryption, keyIds: [keyId] } });
}

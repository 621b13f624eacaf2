/**
 * Files at a location: the operations behind `PUT/GET/HEAD/DELETE /files/{location}/{key}`,
 * independent of HTTP so the CLI and workers use the same path. Access checks happen before
 * (the caller has authorised the principal at the location); this service keeps the metadata,
 * the encrypted object and the audit trail in step.
 *
 * Write order (crash-safe: every step leaves something accounted for):
 *   1. file + version (pending) + replica (writing) in the metadata;
 *   2. the object streams through encryption into the location;
 *   3. the audit entry (a write that cannot be recorded is not committed);
 *   4. version committed and replica verified, in one transaction.
 * A failure in 2–4 marks the version and replica failed; nothing half-written becomes current.
 *
 * Reads are recorded before the first plaintext byte leaves, and a whole-object read is
 * verified against the version's SHA-256 as it streams: a mismatch breaks the stream with
 * `checksum_mismatch` instead of completing it.
 */
import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { EncryptedStore } from '../crypto/encrypted-store.ts';
import type { KeyProvider } from '../crypto/keys/port.ts';
import { MovingDataError } from '../errors.ts';
import type { EncryptionDescriptor, FileVersion, MetadataStore, Replica } from '../metadata/index.ts';
import type { ByteRange, ObjectInfo } from '../storage/port.ts';
import { assertFileKey } from './keys.ts';

export interface FileServiceDeps {
  readonly metadata: MetadataStore;
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  readonly keys: KeyProvider;
  readonly audit: AuditTrail;
}

export interface WriteOptions {
  readonly size?: number;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly tier?: string;
  readonly signal?: AbortSignal;
}

export interface WriteResult {
  readonly location: string;
  readonly key: string;
  readonly version: number;
  readonly size: number;
  readonly sha256: string;
  readonly keyId: string;
  readonly storedSize: number;
  readonly tier: string | null;
}

export interface ReadResult {
  readonly body: Readable;
  readonly info: ObjectInfo;
  readonly range?: { readonly start: number; readonly end: number };
  /** The recorded version this copy belongs to, when the metadata knows it. */
  readonly version: FileVersion | undefined;
}

export interface FileHead {
  readonly info: ObjectInfo;
  readonly version: FileVersion | undefined;
  readonly replica: Replica | undefined;
}

/** Checks a whole-object read against the recorded SHA-256 as the bytes stream past. */
class VerifyingStream extends Transform {
  readonly #hash = createHash('sha256');
  readonly #expected: string;
  readonly #what: string;

  constructor(expected: string, what: string) {
    super();
    this.#expected = expected;
    this.#what = what;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.#hash.digest('hex');
    if (actual === this.#expected) return callback();
    callback(new MovingDataError('checksum_mismatch', `${this.#what}: plaintext SHA-256 ${actual} differs from the recorded ${this.#expected}`, { retryable: false }));
  }
}

export class FileService {
  readonly #deps: FileServiceDeps;

  constructor(deps: FileServiceDeps) {
    this.#deps = deps;
  }

  /** The location's store; `not_found` for a location that is not configured. */
  store(location: string): EncryptedStore {
    const store = this.#deps.stores.get(location);
    if (store === undefined) {
      throw new MovingDataError('not_found', `no location named '${location}'; locations: ${[...this.#deps.stores.keys()].join(', ')}`, { details: { location } });
    }
    return store;
  }

  async write(principal: string, location: string, key: string, body: Readable, options: WriteOptions = {}): Promise<WriteResult> {
    const { metadata, audit } = this.#deps;
    let store: EncryptedStore;
    try {
      store = this.store(location);
      assertFileKey(key, store);
    } catch (err) {
      body.destroy();
      throw err;
    }
    const active = this.#deps.keys.keysFor(location).active;
    const encryption: EncryptionDescriptor = { format: active.format, keyIds: [active.id] };
    const { file } = await metadata.ensureFile({ key, ...(options.contentType === undefined ? {} : { contentType: options.contentType }) });
    const version = await metadata.addVersion({
      fileId: file.id,
      encryption,
      writtenBy: principal,
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    });
    const ref = { fileId: file.id, version: version.version, location };
    await metadata.upsertReplica({ ...ref, objectKey: key, state: 'writing', encryption });
    try {
      const put = await store.put(key, body, options);
      const sha256 = put.checksums.sha256!;
      await audit.write({ principal, location, objectKey: key, keyId: active.id, sha256, details: { version: version.version, size: put.size } });
      const stored = await store.inner.head(key, options.signal);
      await metadata.transaction(async (tx) => {
        await tx.transitionVersion(file.id, version.version, { from: 'pending', to: 'committed', size: put.size, sha256 });
        await tx.transitionReplica(ref, {
          from: 'writing',
          to: 'verified',
          storedSize: stored.size,
          checksums: { ...stored.checksums, ...(stored.etag === undefined ? {} : { etag: stored.etag }) },
          ...(stored.tier === undefined ? {} : { tier: stored.tier }),
          countAttempt: true,
        });
      });
      return { location, key, version: version.version, size: put.size, sha256, keyId: active.id, storedSize: stored.size, tier: stored.tier ?? null };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // Best effort: the write already failed; these marks only make the failure visible.
      await metadata.transitionVersion(file.id, version.version, { from: 'pending', to: 'failed' }).catch(() => undefined);
      await metadata.transitionReplica(ref, { from: ['pending', 'writing'], to: 'failed', lastError: reason.slice(0, 1000), countAttempt: true }).catch(() => undefined);
      throw err;
    }
  }

  async read(principal: string, location: string, key: string, options: { range?: ByteRange; signal?: AbortSignal } = {}): Promise<ReadResult> {
    const store = this.store(location);
    assertFileKey(key, store);
    const { version, replica } = await this.#recorded(location, key);
    const got = await store.get(key, { ...(options.range === undefined ? {} : { range: options.range }), ...(options.signal === undefined ? {} : { signal: options.signal }) });
    try {
      // Recorded before any plaintext leaves: a read that cannot be recorded does not happen.
      await this.#deps.audit.read({
        principal,
        location,
        objectKey: key,
        keyId: replica?.encryption?.keyIds[0] ?? version?.encryption.keyIds[0] ?? null,
        sha256: version?.sha256 ?? null,
        details: { ...(version ? { version: version.version } : {}), ...(got.range ? { range: `${got.range.start}-${got.range.end}` } : {}) },
      });
    } catch (err) {
      got.body.destroy();
      throw err;
    }
    const body =
      got.range === undefined && version?.sha256 != null && version.size === got.info.size
        ? pipeline(got.body, new VerifyingStream(version.sha256, `${location}:${key}`), () => undefined)
        : got.body;
    return { body, info: got.info, ...(got.range ? { range: got.range } : {}), version };
  }

  async head(location: string, key: string, signal?: AbortSignal): Promise<FileHead> {
    const store = this.store(location);
    assertFileKey(key, store);
    const info = await store.head(key, signal);
    const { version, replica } = await this.#recorded(location, key);
    return { info, version, replica };
  }

  async remove(principal: string, location: string, key: string, signal?: AbortSignal): Promise<{ readonly fileDeleted: boolean }> {
    const { metadata, audit } = this.#deps;
    const store = this.store(location);
    assertFileKey(key, store);
    const file = await metadata.findFileByKey(key);
    await audit.delete({ principal, location, objectKey: key, details: file ? { file_id: file.id } : {} });
    await store.delete(key, signal);
    if (file === undefined) return { fileDeleted: false };
    const replicas = await metadata.listReplicasOfFile(file.id);
    for (const replica of replicas.filter((r) => r.location === location && r.state !== 'deleted')) {
      await metadata.transitionReplica(replica, { from: replica.state, to: 'deleted' });
    }
    const live = replicas.some((r) => r.location !== location && r.version === file.currentVersion && r.state !== 'deleted' && r.state !== 'failed');
    if (live) return { fileDeleted: false };
    await metadata.deleteFile(file.id);
    return { fileDeleted: true };
  }

  /** The current version and this location's replica of it, when the metadata has them. */
  async #recorded(location: string, key: string): Promise<{ version: FileVersion | undefined; replica: Replica | undefined }> {
    const file = await this.#deps.metadata.findFileByKey(key);
    if (file === undefined || file.currentVersion === null) return { version: undefined, replica: undefined };
    const version = await this.#deps.metadata.getVersion(file.id, file.currentVersion);
    const replicas = await this.#deps.metadata.listReplicasOfVersion(file.id, file.currentVersion);
    return { version, replica: replicas.find((r) => r.location === location) };
  }
}

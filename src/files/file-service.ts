/**
 * Files at a location: the operations behind `PUT/GET/HEAD/DELETE /files/{location}/{key}`,
 * independent of HTTP so the CLI and workers use the same path. Access checks happen before
 * (the caller has authorised the principal at the location); this service keeps the metadata,
 * the encrypted object and the audit trail in step.
 *
 * Writes go through the replication engine (a write to one location is a fan-out of one), so
 * metadata, audit and the stored bytes follow the same crash-safe order everywhere.
 *
 * Reads are recorded before the first plaintext byte leaves, and a whole-object read is
 * verified against the version's SHA-256 as it streams: a mismatch breaks the stream with
 * `checksum_mismatch` instead of completing it.
 */
import { pipeline, type Readable } from 'node:stream';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { EncryptedStore } from '../crypto/encrypted-store.ts';
import { MovingDataError } from '../errors.ts';
import type { FileVersion, MetadataStore, Replica } from '../metadata/index.ts';
import type { ReplicaOutcome, Replicator } from '../replication/replicator.ts';
import { PlaintextVerifier } from '../replication/verifiers.ts';
import type { ByteRange, ObjectInfo } from '../storage/port.ts';
import { assertFileKey } from './keys.ts';
import type { JobRunner } from '../jobs/runner.ts';

export interface FileServiceDeps {
  readonly metadata: MetadataStore;
  readonly audit: AuditTrail;
  readonly replicator: Replicator;
  /** Where the copies a write could not make are queued for retry; without it they stay failed. */
  readonly jobs?: JobRunner;
}

export interface WriteOptions {
  readonly size?: number;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly tier?: string;
  readonly signal?: AbortSignal;
  /** More locations to store the same version at, in the same pass. */
  readonly replicas?: readonly string[];
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
  /** Every location written, the primary included. */
  readonly replicas: readonly ReplicaOutcome[];
  /** The primary's copy failed and is queued (another copy holds the version): accepted, not yet there. */
  readonly primaryPending: boolean;
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

export class FileService {
  readonly #deps: FileServiceDeps;

  constructor(deps: FileServiceDeps) {
    this.#deps = deps;
  }

  /** The location's store; `not_found` for a location that is not configured. */
  store(location: string): EncryptedStore {
    return this.#deps.replicator.store(location);
  }

  /**
   * A new version of `key` at `location` (and, in the same streaming pass, at `options.replicas`):
   * see Replicator.write for the order of events and what a failure leaves behind.
   */
  async write(principal: string, location: string, key: string, body: Readable, options: WriteOptions = {}): Promise<WriteResult> {
    const outcome = await this.#deps.replicator.write(principal, key, [location, ...(options.replicas ?? [])], body, options);
    // The version is committed (at least one copy verified, or write() would have thrown): each
    // copy that failed — a provider down, say — becomes a replication job, retried with backoff
    // until the location is back, so the write converges without anyone acting.
    const replicas = await Promise.all(outcome.replicas.map(async (r) => (r.state === 'failed' ? this.#queueRetry(principal, outcome.file.id, outcome.version, r) : r)));
    const primary = replicas.find((r) => r.location === location);
    if (primary?.state !== 'verified' && primary?.state !== 'pending') {
      throw new MovingDataError(primary?.error?.code === 'unavailable' ? 'unavailable' : 'internal', `the copy at ${location} failed: ${primary?.error?.message ?? 'unknown error'}`, {
        retryable: primary?.error?.code === 'unavailable',
        details: { replicas: outcome.replicas.map((r) => ({ location: r.location, state: r.state })) },
      });
    }
    return {
      location,
      key,
      version: outcome.version,
      size: outcome.size,
      sha256: outcome.sha256,
      keyId: primary.keyId ?? '',
      storedSize: primary.storedSize ?? 0,
      tier: primary.tier,
      replicas,
      primaryPending: primary.state === 'pending',
    };
  }

  async #queueRetry(principal: string, fileId: string, version: number, failed: ReplicaOutcome): Promise<ReplicaOutcome> {
    const { jobs, metadata } = this.#deps;
    if (jobs === undefined) return failed;
    const ref = { fileId, version, location: failed.location };
    await metadata.transitionReplica(ref, { from: 'failed', to: 'pending' });
    const job = await jobs.submit('replicate', { file_id: fileId, location: failed.location, principal }, { dedupeKey: `replicate:${fileId}:${failed.location}` });
    return { ...failed, state: 'pending', jobId: job.id };
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
        ? pipeline(got.body, new PlaintextVerifier(version.sha256, `${location}:${key}`), () => undefined)
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

/**
 * Files at a location: the operations behind `PUT/GET/HEAD/DELETE /files/{location}/{key}`,
 * independent of HTTP so the CLI and workers use the same path. Access checks happen before
 * (the caller has authorised the principal at the location); this service keeps the metadata,
 * the encrypted object and the audit trail in step.
 *
 * Writes go through the replication engine (a write to one location is a fan-out of one), so
 * metadata, audit and the stored bytes follow the same crash-safe order everywhere.
 *
 * Each location serves its own live copy (see MetadataOperations.liveReplicaAt): the version last
 * committed there, by a write, a replication or a move. Reads are recorded before the first
 * plaintext byte leaves; the stored object is checked against its record before that, and a
 * whole-object read is verified against the version's SHA-256 as it streams: a mismatch breaks
 * the stream with `checksum_mismatch` instead of completing it.
 */
import type { ReadCompletion } from '../events/access-events.ts';
import { pipeline, type Readable } from 'node:stream';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { EncryptedStore } from '../crypto/encrypted-store.ts';
import { MovingDataError, isMovingDataError } from '../errors.ts';
import type { FileRecord, FileVersion, LiveReplica, MetadataStore, Replica } from '../metadata/index.ts';
import { sealExpectation, type ReplicaOutcome, type Replicator } from '../replication/replicator.ts';
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
  /** The committed version this copy holds. */
  readonly version: FileVersion;
}

export interface FileHead {
  readonly info: ObjectInfo;
  readonly version: FileVersion;
  readonly replica: Replica;
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
    const job = await jobs.submit('replicate', { file_id: fileId, location: failed.location, principal, version, restore: true }, { dedupeKey: `replicate:${fileId}:${failed.location}:${version}` });
    return { ...failed, state: 'pending', jobId: job.id };
  }

  /**
   * Read what `location` holds for `key`: its live copy (the version last committed there),
   * under that version's SHA-256, content type and metadata, all from the metadata store. The
   * stored object is checked against what was recorded when it was written (size, seal) before
   * a byte is sent; a mismatch is `integrity_mismatch`, the copy is marked failed and its
   * restore from another verified copy queued.
   */
  async read(principal: string, location: string, key: string, options: { range?: ByteRange; signal?: AbortSignal } = {}): Promise<ReadResult> {
    const store = this.store(location);
    assertFileKey(key, store);
    const { file, version, replica } = await this.#live(location, key);
    const spec = replica.tier === null ? undefined : store.inner.features.tiers.find((t) => t.name === replica.tier);
    if (spec?.offline === true) {
      throw new MovingDataError('archived', `${key} at ${location} is in the ${spec.name} tier; restore it first (POST /tiering/restore)`, {
        retryable: false,
        details: { location, key, tier: spec.name },
      });
    }
    let got;
    try {
      got = await store.get(replica.objectKey, { expect: sealExpectation(replica), ...(options.range === undefined ? {} : { range: options.range }), ...(options.signal === undefined ? {} : { signal: options.signal }) });
    } catch (err) {
      throw await this.#damaged(replica, err);
    }
    try {
      // Recorded before any plaintext leaves: a read that cannot be recorded does not happen.
      await this.#deps.audit.read({
        principal,
        location,
        objectKey: key,
        keyId: replica.encryption?.keyIds[0] ?? version.encryption.keyIds[0] ?? null,
        sha256: version.sha256,
        details: { version: version.version, ...(got.range ? { range: `${got.range.start}-${got.range.end}` } : {}) },
      });
    } catch (err) {
      got.body.destroy();
      throw err;
    }
    const body =
      got.range === undefined && version.sha256 !== null && version.size === got.info.size
        ? pipeline(got.body, new PlaintextVerifier(version.sha256, `${location}:${key}`), () => undefined)
        : got.body;
    // A chunk that fails later (damage past the first one) breaks the stream: mark the copy too.
    body.once('error', (err) => {
      void this.#damaged(replica, err).catch(() => undefined);
    });
    return { body, info: this.#info(file, version, replica, got.info.size), ...(got.range ? { range: got.range } : {}), version };
  }

  /** Reports the end of a read (see `AuditTrail.readCompleted`). */
  readCompleted(read: ReadCompletion): Promise<void> {
    return this.#deps.audit.readCompleted(read);
  }

  /** What `location` holds for `key`, from the metadata alone (no request to the store). */
  async head(location: string, key: string): Promise<FileHead> {
    const store = this.store(location);
    assertFileKey(key, store);
    const { file, version, replica } = await this.#live(location, key);
    return { info: this.#info(file, version, replica, version.size ?? 0), version, replica };
  }

  /**
   * Delete `location`'s copy of `key`: every copy there is marked deleted in one transaction
   * (a write still in flight commits after it, and wins: the last commit wins), then the objects
   * go. Other locations' copies stay. The file itself is gone once nothing of it is left.
   */
  async remove(principal: string, location: string, key: string, signal?: AbortSignal): Promise<{ readonly fileDeleted: boolean }> {
    const { metadata, audit, replicator } = this.#deps;
    const store = this.store(location);
    assertFileKey(key, store);
    const file = await metadata.findFileByKey(key);
    await audit.delete({ principal, location, objectKey: key, details: file ? { file_id: file.id } : {} });
    if (file === undefined) return { fileDeleted: false };
    const removed = await metadata.transaction(async (tx) => {
      await tx.lockFile(file.id);
      return tx.supersedeReplicas(file.id, location, { states: ['verified', 'failed', 'pending'] });
    });
    await replicator.removeObjects(removed, signal);
    return { fileDeleted: await metadata.deleteFileIfUnused(file.id) };
  }

  /** The live copy at `location`; `not_found` if there is none, `integrity_mismatch` if it is damaged. */
  async #live(location: string, key: string): Promise<LiveReplica> {
    const live = await this.#deps.metadata.liveReplicaAt(key, location);
    if (live === undefined) throw new MovingDataError('not_found', `no object '${key}' at ${location}`, { details: { location, key } });
    if (live.replica.state !== 'verified') {
      if (live.replica.lastError?.startsWith(INTEGRITY_PREFIX) === true) {
        throw new MovingDataError('integrity_mismatch', `the copy of '${key}' at ${location} is damaged and awaits repair: ${live.replica.lastError.slice(INTEGRITY_PREFIX.length)}`, {
          details: { location, key, version: live.version.version },
        });
      }
      throw new MovingDataError('not_found', `no object '${key}' at ${location}`, { details: { location, key } });
    }
    return live;
  }

  /** The plaintext view of a copy, from the metadata: what was written, not what the store says. */
  #info(file: FileRecord, version: FileVersion, replica: Replica, size: number): ObjectInfo {
    const contentType = version.contentType ?? file.contentType;
    return {
      key: file.key,
      size,
      ...(replica.tier === null ? {} : { tier: replica.tier }),
      lastModified: version.updatedAt,
      ...(contentType === null ? {} : { contentType }),
      checksums: {},
      metadata: version.metadata,
    };
  }

  /**
   * A read found the stored object is not the one recorded (`integrity_mismatch`), or it does not
   * decrypt (`decryption_failed`: tampered inside), or its plaintext is not the version's: the
   * copy is marked failed (the scan then reports it, and reads answer `integrity_mismatch` until
   * it is repaired), and restoring it from another verified copy of the same version is queued.
   * Returns the error to answer with.
   */
  async #damaged(replica: Replica, err: unknown): Promise<unknown> {
    if (!isMovingDataError(err) || (err.code !== 'integrity_mismatch' && err.code !== 'decryption_failed' && err.code !== 'checksum_mismatch')) return err;
    const { metadata, jobs } = this.#deps;
    const marked = await metadata.transitionReplica(replica, { from: 'verified', to: 'failed', lastError: `${INTEGRITY_PREFIX}${err.message}`.slice(0, 1000) });
    if (marked.applied && jobs !== undefined) {
      await jobs.submit(
        'repair',
        { kind: 'differing', location: replica.location, object_key: replica.objectKey, file_id: replica.fileId, version: replica.version, detail: err.message.slice(0, 500) },
        { dedupeKey: `repair:${replica.location}:${replica.objectKey}` },
      );
    }
    return err;
  }
}

/** Marks a copy that a read or a scan found damaged (as opposed to a write that failed). */
export const INTEGRITY_PREFIX = 'integrity_mismatch: ';

/**
 * The replication engine's operations, each idempotent so a job can run it again after a crash:
 *
 * - write: a new version of a file, fanned out to N locations in one pass (fan-out.ts);
 * - replicate: copy the current version to one more location from a verified replica. Age
 *   payloads are copied as they are (only the header is re-wrapped for the target's key), and
 *   decrypted on the side as they stream past so the copy is verified against the recorded
 *   plaintext SHA-256 before the target commits it;
 * - verify: a replica is where the metadata says, with the recorded size and provider checksum
 *   (deep: decrypts it and compares the plaintext SHA-256);
 * - move (moveStep): copy → verify → switch the metadata in one transaction → only then delete
 *   the source. Each step is safe to repeat, so a crash at any point converges when the job
 *   runs again.
 *
 * Replica states: pending (planned) → writing (bytes may exist) → verified | failed; deleted.
 */
import { createHash } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { sha256Hex, type EncryptedStore, type SealExpectation } from '../crypto/encrypted-store.ts';
import { MovingDataError, isMovingDataError } from '../errors.ts';
import { assertFileKey } from '../files/keys.ts';
import type { EncryptionDescriptor, FileRecord, FileVersion, JsonObject, MetadataOperations, MetadataStore, ProviderChecksums, Replica, ReplicaRef, WriteCommitted, WriteStarted } from '../metadata/index.ts';
import type { ObjectInfo } from '../storage/port.ts';
import { confirmStored, fanOutWrite, headAndVerify, type BranchOutcome } from './fan-out.ts';
import { versionObjectKey, versionObjectKeyParts } from './object-names.ts';
import { PayloadVerifier, PlaintextVerifier } from './verifiers.ts';

export interface ReplicatorDeps {
  readonly metadata: MetadataStore;
  readonly stores: ReadonlyMap<string, EncryptedStore>;
  readonly audit: AuditTrail;
}

export interface WriteRequest {
  readonly size?: number;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly tier?: string;
  readonly signal?: AbortSignal;
}

export interface ReplicaOutcome {
  readonly location: string;
  /** pending: this copy failed, and a replication job (retried with backoff) will make it. */
  readonly state: 'verified' | 'failed' | 'pending';
  /** The job that retries a failed copy. */
  readonly jobId?: string;
  readonly keyId: string | null;
  readonly storedSize: number | null;
  readonly tier: string | null;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface WriteOutcome {
  readonly file: FileRecord;
  readonly version: number;
  readonly size: number;
  readonly sha256: string;
  readonly replicas: readonly ReplicaOutcome[];
}

export type MoveStep = 'copy' | 'verify' | 'switch' | 'delete' | 'done';
export const MOVE_STEPS: readonly MoveStep[] = ['copy', 'verify', 'switch', 'delete', 'done'];

export interface MoveRequest {
  readonly fileId: string;
  readonly from: string;
  readonly to: string;
  readonly tier?: string;
  /** The version moved: the one `from` held when the move was asked for (default: the current one). */
  readonly version?: number;
}

function errorSummary(err: unknown): { code: string; message: string } {
  return { code: isMovingDataError(err) ? err.code : 'internal', message: (err instanceof Error ? err.message : String(err)).slice(0, 1000) };
}

function recordedChecksums(stored: ObjectInfo): ProviderChecksums {
  return { ...stored.checksums, ...(stored.etag === undefined ? {} : { etag: stored.etag }) };
}

export class Replicator {
  readonly #deps: ReplicatorDeps;

  constructor(deps: ReplicatorDeps) {
    this.#deps = deps;
  }

  store(location: string): EncryptedStore {
    const store = this.#deps.stores.get(location);
    if (store === undefined) {
      throw new MovingDataError('not_found', `no location named '${location}'; locations: ${[...this.#deps.stores.keys()].join(', ')}`, { details: { location } });
    }
    return store;
  }

  get locations(): readonly string[] {
    return [...this.#deps.stores.keys()];
  }

  get metadata(): MetadataStore {
    return this.#deps.metadata;
  }

  /**
   * A new version of `key`, written to every location in `locations` in one streaming pass, each
   * copy under the version's own object name (object-names.ts). The version is committed, each
   * copy switched to it and the copies it supersedes marked deleted, in one transaction under
   * the file's row lock: the last commit wins at each location, and what a location serves is
   * always one committed version's bytes. Only then are the superseded objects removed.
   */
  async write(principal: string, key: string, locations: readonly string[], body: Readable, request: WriteRequest = {}): Promise<WriteOutcome> {
    const { metadata, audit } = this.#deps;
    let targets;
    try {
      const unique = [...new Set(locations)];
      if (unique.length === 0) throw new MovingDataError('invalid_argument', 'name at least one location');
      targets = unique.map((location) => {
        const store = this.store(location);
        assertFileKey(key, store);
        return { location, store, ...(request.tier === undefined ? {} : { tier: request.tier }) };
      });
    } catch (err) {
      body.destroy();
      throw err;
    }
    const encryption: EncryptionDescriptor = { format: targets.every((t) => t.store.format === 'fernet') ? 'fernet' : 'age', keyIds: [] };
    let started: WriteStarted;
    try {
      // The file, a pending version and a `writing` copy per target, in one round trip.
      started = await metadata.beginWrite({
        key,
        writtenBy: principal,
        encryption,
        objectKey: versionObjectKeyParts(key),
        copies: targets.map((t) => ({ location: t.location, encryption: { format: t.store.format, keyIds: [t.store.activeKeyId] } })),
        ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
        ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
      });
    } catch (err) {
      body.destroy();
      throw err;
    }
    const { file, version } = started;
    const objectKey = started.replicas[0]!.objectKey;
    const result = await fanOutWrite(body, {
      key: objectKey,
      targets,
      ...(request.size === undefined ? {} : { size: request.size }),
      ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
      ...(request.metadata === undefined ? {} : { metadata: request.metadata }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
    const succeeded = result.branches.filter((b): b is Extract<BranchOutcome, { ok: true }> => b.ok);
    let committed: Extract<WriteCommitted, { applied: true }>;
    try {
      if (result.sourceError !== undefined || succeeded.length === 0 || result.sha256 === undefined) {
        const cause: unknown = result.sourceError ?? (result.branches.find((b) => !b.ok) as { error: unknown } | undefined)?.error;
        throw cause instanceof Error ? cause : new MovingDataError('internal', 'the write stored nothing');
      }
      const sha256 = result.sha256;
      // One transaction records the write in the audit trail and makes it current (under the
      // file's row lock: commits of one file are serialised, and the last one wins). A write the
      // trail cannot record is not committed.
      const outcome = await metadata.commitWrite({
        fileId: file.id,
        version: version.version,
        size: result.size,
        sha256,
        copies: result.branches.map((branch) =>
          branch.ok
            ? {
                location: branch.location,
                stored: {
                  storedSize: branch.stored.size,
                  checksums: recordedChecksums(branch.stored),
                  ...(branch.stored.tier === undefined ? {} : { tier: branch.stored.tier }),
                  encryption: sealedWith(this.store(branch.location).format, branch.keyId, branch.sealSha256),
                },
              }
            : { location: branch.location, error: errorSummary(branch.error).message },
        ),
        audit: succeeded.map((branch) =>
          audit.writeEntry({ principal, location: branch.location, objectKey: key, keyId: branch.keyId, sha256, details: { version: version.version, size: result.size, object_key: objectKey } }),
        ),
      });
      if (!outcome.applied) {
        throw new MovingDataError('conflict', `the write of ${key} was abandoned before it could commit (version ${version.version} is ${outcome.version.state}); write it again`, {
          retryable: true,
          details: { key, version: version.version },
        });
      }
      committed = outcome;
    } catch (err) {
      await this.#abandon(file.id, version.version, targets.map((t) => t.location), objectKey, err);
      throw err;
    }
    await this.removeObjects(committed.superseded);
    const replicaAt = new Map(committed.replicas.map((r) => [r.location, r]));
    return {
      file: committed.file,
      version: version.version,
      size: result.size,
      sha256: result.sha256,
      replicas: result.branches.map((b) =>
        b.ok && replicaAt.get(b.location)?.state === 'verified'
          ? { location: b.location, state: 'verified', keyId: b.keyId, storedSize: b.stored.size, tier: b.stored.tier ?? null }
          : {
              location: b.location,
              state: 'failed',
              keyId: b.keyId ?? null,
              storedSize: null,
              tier: null,
              error: b.ok ? { code: 'conflict', message: 'the copy changed state while it was being written' } : errorSummary(b.error),
            },
      ),
    };
  }

  /**
   * A write that will not commit: its version failed, its copies failed, their objects removed
   * (an object the provider half-took is garbage, never a version), and the file dropped if it
   * was this write's alone.
   */
  async #abandon(fileId: string, version: number, locations: readonly string[], objectKey: string, cause: unknown): Promise<void> {
    const { metadata } = this.#deps;
    const message = errorSummary(cause).message;
    // Best effort on each step: the original error is what the caller must see, and a step
    // left undone here is found by the drift scan (a stale `writing` copy, an orphan object).
    await metadata.transitionVersion(fileId, version, { from: 'pending', to: 'failed' }).catch(() => undefined);
    for (const location of locations) {
      const ref = { fileId, version, location };
      // Nothing left there once its object is gone: `deleted`, with why. An object that could
      // not be removed keeps the copy `failed`, for the scan to report and its repair to retry.
      const removed = await this.store(location)
        .inner.delete(objectKey)
        .then(() => true)
        .catch(() => false);
      await metadata.transitionReplica(ref, { from: ['pending', 'writing', 'failed'], to: removed ? 'deleted' : 'failed', lastError: message, countAttempt: true }).catch(() => undefined);
    }
    await metadata.deleteFileIfUnused(fileId).catch(() => undefined);
  }

  /**
   * Remove the objects of replicas the metadata already calls deleted (superseded). Best
   * effort: one that cannot be removed now is reported by the next drift scan as
   * `pending_delete`, whose repair removes it.
   */
  async removeObjects(replicas: readonly Replica[], signal?: AbortSignal): Promise<void> {
    await Promise.all(replicas.filter((r) => this.#deps.stores.has(r.location)).map((r) => this.store(r.location).inner.delete(r.objectKey, signal).catch(() => undefined)));
  }

  /**
   * Make sure a version of a file is verified at `location`: copy it from a verified replica
   * elsewhere (or re-tier it in place). Without `version`, the file's current version; with it,
   * that version. Never over a newer version the location holds by the time the copy is done;
   * with `restore` (a write's failed copy retried, a damaged copy restored), never a copy that
   * was deleted since either: a restore gives back what was there, nothing more.
   * Idempotent: a verified replica in the right tier is left alone.
   *
   * Returns the replica, or `superseded: true` when the location moved on meanwhile (a newer
   * version arrived, or the copy was deleted): the copy is then not made, or removed again.
   */
  async replicate(
    principal: string,
    fileId: string,
    location: string,
    options: { tier?: string; signal?: AbortSignal; sources?: readonly string[]; version?: number; restore?: boolean } = {},
  ): Promise<Replica & { readonly superseded?: boolean }> {
    const { metadata } = this.#deps;
    const target = this.store(location);
    const { file, version, replicas } = await this.#current(fileId, options.version);
    const existing = replicas.find((r) => r.location === location);
    if (existing?.state === 'verified' && (options.tier === undefined || existing.tier === options.tier)) return existing;
    const ref: ReplicaRef = { fileId, version: version.version, location };
    if (existing?.state === 'verified' && options.tier !== undefined && target.setTier) {
      await target.setTier(existing.objectKey, options.tier, options.signal);
      const moved = await metadata.transitionReplica(ref, { from: 'verified', to: 'verified', tier: options.tier });
      return moved.applied ? moved.value : moved.current;
    }
    // A retry or a restore does not bring back a copy deleted since.
    if (options.restore === true && existing?.state === 'deleted') return { ...existing, superseded: true };
    const newer = await newerLive(metadata, file.key, location, version.version);
    if (newer !== undefined) return { ...(existing ?? newer), superseded: true };
    let source = this.#pickSource(replicas, location, options.sources);
    if (source === undefined) throw new MovingDataError('not_found', `${file.key} v${version.version} has no verified replica to copy from`, { retryable: true, details: { file_id: fileId } });
    const objectKey = versionObjectKey(file.key, version.version);
    if (existing === undefined) {
      await metadata.upsertReplica({ ...ref, objectKey, state: 'pending', encryption: { format: target.format, keyIds: [target.activeKeyId] } });
    } else if (existing.objectKey !== objectKey) {
      // What an earlier attempt left (unverified, never served) goes before the row forgets it.
      await target.inner.delete(existing.objectKey, options.signal);
    }
    const started = await metadata.transitionReplica(ref, { from: ['pending', 'writing', 'failed', 'deleted', 'verified'], to: 'writing', objectKey, countAttempt: true });
    if (!started.applied) throw new MovingDataError('conflict', `the copy at ${location} changed meanwhile`, { retryable: true });
    try {
      const gone = new Set<string>();
      let stored: { info: ObjectInfo; keyId: string; sealSha256: string } | undefined;
      while (stored === undefined) {
        try {
          stored = await this.#copy(source, target, objectKey, file, version, options);
        } catch (err) {
          // The copy the metadata vouched for is missing or not what was recorded (drift a scan
          // of its location has not found yet): it is marked failed, which the next scan repairs,
          // and the next verified copy is tried at once instead of retrying this one with backoff.
          if (!sourceIsGone(err, source)) throw err;
          await metadata
            .transitionReplica({ fileId, version: version.version, location: source.location }, { from: 'verified', to: 'failed', lastError: `${errorSummary(err).message} (found while copying it to ${location})` })
            .catch(() => undefined);
          gone.add(source.location);
          const next = this.#pickSource(replicas.filter((r) => !gone.has(r.location)), location, options.sources);
          if (next === undefined) throw err;
          source = next;
        }
      }
      await this.#deps.audit.record({
        principal,
        action: 'replicate',
        outcome: 'allowed',
        location,
        objectKey: file.key,
        keyId: stored.keyId,
        sha256: version.sha256,
        details: { version: version.version, from: source.location, object_key: objectKey },
      });
      const { replica, replaced } = await metadata.transaction(async (tx) => {
        await tx.lockFile(fileId);
        const row = await tx.getReplica(ref);
        const overtaken = await newerLive(tx, file.key, location, version.version);
        if (row.state !== 'writing' || row.objectKey !== objectKey || overtaken !== undefined) {
          // Overtaken by a newer version there (or a delete, or another attempt): not switched to.
          return { replica: { ...row, superseded: true }, replaced: [{ ...row, objectKey }] };
        }
        const done = await tx.transitionReplica(ref, {
          from: 'writing',
          to: 'verified',
          storedSize: stored.info.size,
          checksums: recordedChecksums(stored.info),
          ...(stored.info.tier === undefined ? {} : { tier: stored.info.tier }),
          encryption: sealedWith(target.format, stored.keyId, stored.sealSha256),
          lastError: null,
        });
        const value = done.applied ? done.value : done.current;
        return { replica: value, replaced: await tx.supersedeReplicas(fileId, location, { keep: version.version }) };
      });
      await this.removeObjects(replaced, options.signal);
      return replica;
    } catch (err) {
      await metadata.transitionReplica(ref, { from: ['writing', 'pending'], to: 'failed', lastError: errorSummary(err).message }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Changes the class of a file's verified copy at `location` in place (the store's tier
   * change: S3 and GCS rewrite the object onto itself, Azure sets its access tier), records the
   * tier and the provider's checksums afresh (a rewrite can change the ETag) and audits it as a
   * policy decision `tier:<name>`, which publishes a `tier.change` access event.
   */
  async changeTier(
    principal: string,
    fileId: string,
    location: string,
    tier: string,
    options: { readonly version?: number; readonly signal?: AbortSignal; readonly details?: JsonObject } = {},
  ): Promise<Replica> {
    const { metadata } = this.#deps;
    const target = this.store(location);
    if (target.setTier === undefined) throw new MovingDataError('unsupported', `${location} cannot change a copy's tier in place`, { retryable: false });
    const { file, version, replicas } = await this.#current(fileId, options.version);
    const existing = replicas.find((r) => r.location === location);
    if (existing?.state !== 'verified') {
      throw new MovingDataError('conflict', `${file.key} v${version.version} has no verified copy at ${location} to re-tier`, { retryable: false, details: { file_id: fileId, location } });
    }
    if (existing.tier === tier) return existing;
    await target.setTier(existing.objectKey, tier, options.signal);
    const info = await target.inner.head(existing.objectKey, options.signal);
    const ref: ReplicaRef = { fileId, version: version.version, location };
    const moved = await metadata.transitionReplica(ref, { from: 'verified', to: 'verified', tier, checksums: recordedChecksums(info) });
    if (!moved.applied) throw new MovingDataError('conflict', `the copy of ${file.key} at ${location} changed meanwhile`, { retryable: true });
    await this.#deps.audit.policy({
      principal,
      decision: `tier:${tier}`,
      location,
      objectKey: file.key,
      details: { version: version.version, from: existing.tier, tier, ...options.details },
    });
    return moved.value;
  }

  /**
   * Check one replica against the metadata: present, recorded size and provider checksum; with
   * `deep`, read and checked like a GET (the seal recorded at write, then every chunk
   * authenticated) and the plaintext's SHA-256 compared — rclone's `check --download`. Returns
   * the problem, if any.
   */
  async verify(replica: Replica, options: { deep?: boolean; signal?: AbortSignal } = {}): Promise<{ ok: true } | { ok: false; kind: 'missing' | 'differing' | 'unreadable'; message: string }> {
    const store = this.store(replica.location);
    let stored: ObjectInfo;
    try {
      stored = await store.inner.head(replica.objectKey, options.signal);
    } catch (err) {
      if (isMovingDataError(err) && err.code === 'not_found') return { ok: false, kind: 'missing', message: `${replica.location}:${replica.objectKey} is not there` };
      throw err;
    }
    if (replica.storedSize !== null && stored.size !== replica.storedSize) {
      return { ok: false, kind: 'differing', message: `${replica.location}:${replica.objectKey} is ${stored.size} bytes, recorded ${replica.storedSize}` };
    }
    for (const kind of ['crc32', 'crc32c', 'md5', 'sha256'] as const) {
      const recorded = replica.checksums[kind];
      const reported = stored.checksums[kind];
      if (recorded !== undefined && reported !== undefined && recorded !== reported) {
        return { ok: false, kind: 'differing', message: `${replica.location}:${replica.objectKey} ${kind} is ${reported}, recorded ${recorded}` };
      }
    }
    if (!options.deep) return { ok: true };
    const version = await this.#deps.metadata.getVersion(replica.fileId, replica.version);
    try {
      const got = await store.get(replica.objectKey, { expect: sealExpectation(replica), ...(options.signal ? { signal: options.signal } : {}) });
      const hash = createHash('sha256');
      await new Promise<void>((resolve, reject) => {
        got.body.on('data', (chunk: Buffer) => hash.update(chunk));
        got.body.once('end', resolve);
        got.body.once('error', reject);
      });
      const actual = hash.digest('hex');
      if (actual !== version.sha256) return { ok: false, kind: 'differing', message: `${replica.location}:${replica.objectKey} decrypts to SHA-256 ${actual}, recorded ${version.sha256 ?? 'none'}` };
      return { ok: true };
    } catch (err) {
      if (isMovingDataError(err) && err.code === 'integrity_mismatch') return { ok: false, kind: 'differing', message: err.message };
      if (isMovingDataError(err) && err.code === 'decryption_failed') return { ok: false, kind: 'unreadable', message: err.message };
      throw err;
    }
  }

  /**
   * A deep scan's check of one copy: its stored object is the one recorded (size, and the seal
   * written with it: for age the header, a ranged read of its first bytes; for Fernet the whole
   * bounded token). Returns the problem, or undefined when it holds or cannot be checked here
   * (a write-only location holds no identity to open headers with).
   */
  async checkSeal(replica: Replica, signal?: AbortSignal): Promise<string | undefined> {
    const store = this.store(replica.location);
    const options = { expect: sealExpectation(replica), ...(signal ? { signal } : {}) };
    try {
      if (replica.encryption?.format === 'fernet') {
        const got = await store.get(replica.objectKey, options);
        got.body.resume();
        await finished(got.body);
      } else {
        await store.openSealed(replica.objectKey, options);
      }
      return undefined;
    } catch (err) {
      if (!isMovingDataError(err)) throw err;
      if (err.code === 'forbidden') return undefined;
      if (err.code === 'integrity_mismatch' || err.code === 'decryption_failed' || err.code === 'not_found') return err.message;
      throw err;
    }
  }

  /**
   * Settle a copy a crashed writer left `writing` (or `pending`), or a failed write left
   * `failed`: a write that never committed is abandoned (its version failed, its object removed,
   * the copy `deleted`, the file dropped if it was only this write's); a copy in flight of a
   * committed version (a replication that died) is removed and made again. Idempotent; a copy
   * that is settled already is left alone.
   */
  async reconcile(replica: Replica, signal?: AbortSignal): Promise<'abandoned' | 'recopied' | 'none'> {
    const { metadata } = this.#deps;
    const current = await metadata.getReplica(replica);
    if (current.state !== 'writing' && current.state !== 'pending' && current.state !== 'failed') return 'none';
    const version = await metadata.getVersion(replica.fileId, replica.version);
    if (version.state === 'pending' || version.state === 'failed') {
      await this.#abandon(replica.fileId, replica.version, [replica.location], current.objectKey, new MovingDataError('internal', 'abandoned: the write never committed (its writer stopped)'));
      return 'abandoned';
    }
    if (current.state === 'failed') return 'none';
    await metadata.transitionReplica(current, { from: ['writing', 'pending'], to: 'failed', lastError: 'the copy never finished (its writer stopped)' });
    await this.store(replica.location).inner.delete(current.objectKey, signal);
    await this.replicate('system', replica.fileId, replica.location, { version: replica.version, restore: true, ...(signal ? { signal } : {}) });
    return 'recopied';
  }

  /**
   * At start-up: settle what crashed writers left, in flight longer than `olderThanMs` (0 on
   * embedded metadata, where this process is the only writer, so anything in flight is left
   * from before). Returns how many copies were settled.
   */
  async reconcileStale(olderThanMs: number, signal?: AbortSignal): Promise<number> {
    let settled = 0;
    for (;;) {
      const stale = await this.#deps.metadata.listStaleReplicas(['pending', 'writing'], olderThanMs, 500);
      let changed = 0;
      for (const replica of stale) {
        if ((await this.reconcile(replica, signal).catch(() => 'none' as const)) !== 'none') changed += 1;
      }
      settled += changed;
      if (stale.length < 500 || changed === 0) return settled;
    }
  }

  /**
   * One step of a move; returns the next. Every step can run again: `copy` skips a verified
   * target, `verify` re-checks, `switch` is a guarded transaction, `delete` of a missing object
   * succeeds. A move within one location with a tier is a tier change in place.
   */
  async moveStep(principal: string, move: MoveRequest, step: MoveStep, signal?: AbortSignal): Promise<MoveStep> {
    const { metadata, audit } = this.#deps;
    const { file, version, replicas } = await this.#current(move.fileId, move.version);
    const source = replicas.find((r) => r.location === move.from);
    const sameLocation = move.from === move.to;
    switch (step) {
      case 'copy': {
        if (sameLocation && move.tier === undefined) throw new MovingDataError('invalid_argument', 'a move within one location needs a tier');
        if (!sameLocation && (source === undefined || source.state === 'deleted')) {
          // Already switched by an earlier run: nothing left to copy.
          if (replicas.some((r) => r.location === move.to && r.state === 'verified')) return 'delete';
          throw new MovingDataError('not_found', `${file.key} has no replica at ${move.from}`, { details: { location: move.from } });
        }
        const copied = await this.replicate(principal, move.fileId, move.to, { version: version.version, ...(move.tier === undefined ? {} : { tier: move.tier }), ...(signal ? { signal } : {}) });
        if (copied.superseded === true) throw new MovingDataError('conflict', `${move.to} holds a newer version of ${file.key} than the one moved`, { retryable: false });
        return 'verify';
      }
      case 'verify': {
        const target = replicas.find((r) => r.location === move.to);
        if (target?.state !== 'verified') return 'copy';
        const check = await this.verify(target, signal ? { signal } : {});
        if (!check.ok) {
          await metadata.transitionReplica(target, { from: 'verified', to: 'failed', lastError: check.message });
          return 'copy';
        }
        return sameLocation ? 'done' : 'switch';
      }
      case 'switch': {
        await audit.move({ principal, location: move.from, to: move.to, objectKey: file.key, sha256: version.sha256, details: { version: version.version } });
        await metadata.transaction(async (tx) => {
          const target = await tx.getReplica({ fileId: move.fileId, version: version.version, location: move.to });
          if (target.state !== 'verified') throw new MovingDataError('conflict', `the copy at ${move.to} is ${target.state}, not verified`, { retryable: true });
          if (source !== undefined && source.state !== 'deleted') {
            await tx.transitionReplica(source, { from: source.state, to: 'deleted' });
          }
        });
        return 'delete';
      }
      case 'delete': {
        // The metadata already says the source copy is gone; now it really goes.
        await this.store(move.from).delete(source?.objectKey ?? file.key, signal);
        return 'done';
      }
      case 'done':
        return 'done';
    }
  }

  async #current(fileId: string, wanted?: number): Promise<{ file: FileRecord; version: FileVersion; replicas: Replica[] }> {
    const { metadata } = this.#deps;
    const file = await metadata.getFile(fileId);
    if (file.deletedAt !== null) throw new MovingDataError('not_found', `${file.key} was deleted`, { details: { file_id: fileId } });
    const number = wanted ?? file.currentVersion;
    if (number === null) throw new MovingDataError('not_found', `${file.key} has no committed version yet`, { retryable: true, details: { file_id: fileId } });
    const version = await metadata.getVersion(fileId, number);
    if (version.state !== 'committed') throw new MovingDataError('not_found', `${file.key} v${number} is ${version.state}, not committed`, { details: { file_id: fileId, version: number } });
    return { file, version, replicas: await metadata.listReplicasOfVersion(fileId, number) };
  }

  /**
   * A verified replica to copy from, preferring age copies (their payload is copied as is);
   * only from `allowed` locations when given (the caller's roles decide where it may read).
   */
  #pickSource(replicas: readonly Replica[], excluding: string, allowed?: readonly string[]): Replica | undefined {
    const candidates = replicas.filter((r) => r.state === 'verified' && r.location !== excluding && this.#deps.stores.has(r.location) && (allowed === undefined || allowed.includes(r.location)));
    return candidates.find((r) => this.store(r.location).format === 'age') ?? candidates[0];
  }

  /** Copy the version from `source` to `target` at `objectKey`, verified on the way; returns what was stored. */
  async #copy(
    source: Replica,
    target: EncryptedStore,
    objectKey: string,
    file: FileRecord,
    version: FileVersion,
    options: { tier?: string; signal?: AbortSignal },
  ): Promise<{ info: ObjectInfo; keyId: string; sealSha256: string }> {
    const from = this.store(source.location);
    const what = `${target.location}:${objectKey}`;
    const contentType = version.contentType ?? file.contentType;
    const common = {
      ...(contentType === null ? {} : { contentType }),
      metadata: version.metadata,
      ...(options.tier === undefined ? {} : { tier: options.tier }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    if (from.format === 'age' && target.format === 'age') {
      // Header re-wrapped for the target's key; payload bytes copied as they are, decrypted on
      // the side to prove they still hold the recorded plaintext before the target commits.
      const opened = await from.openSealed(source.objectKey, { expect: sealExpectation(source), ...(options.signal ? { signal: options.signal } : {}) });
      const sealed = target.headerFor(opened.fileKey);
      const payload = await from.inner.get(source.objectKey, { range: { start: opened.headerLength }, ...(options.signal ? { signal: options.signal } : {}) });
      const verifier = new PayloadVerifier(opened.fileKey, version.sha256!, what);
      const put = await target.putSealed(objectKey, sealed, pipeline(payload.body, verifier, () => undefined), { ...common, plaintextSize: version.size! });
      const info = confirmStored(target.location, objectKey, put, { size: sealed.header.length + (opened.storedSize - opened.headerLength) });
      return { info, keyId: sealed.keyId, sealSha256: sha256Hex(sealed.header) };
    }
    // A Fernet side: decrypt and seal again (bounded by the Fernet size limit).
    const got = await from.get(source.objectKey, { expect: sealExpectation(source), ...(options.signal ? { signal: options.signal } : {}) });
    const put = await target.put(objectKey, pipeline(got.body, new PlaintextVerifier(version.sha256!, what), () => undefined), { ...common, size: version.size! });
    // A Fernet put answers with the plaintext's size and SHA-256, not the stored token's: the
    // stored object is read back.
    const info = await headAndVerify(target.inner, target.location, objectKey, { ...put, checksums: {} }, {}, options.signal);
    return { info, keyId: target.activeKeyId, sealSha256: put.sealSha256 };
  }
}

/** What a read of this replica expects of its stored object (see EncryptedStore.get). */
export function sealExpectation(replica: Replica): SealExpectation {
  const seal = replica.encryption?.params?.['seal_sha256'];
  return { storedSize: replica.storedSize, sealSha256: typeof seal === 'string' ? seal : null };
}

/** How a copy was sealed: format, key, and the digest of its seal (header or token). */
export function sealedWith(format: 'age' | 'fernet', keyId: string, sealSha256: string): EncryptionDescriptor {
  return { format, keyIds: [keyId], params: { seal_sha256: sealSha256 } };
}

/** The location's live copy of the file, when it is of a newer version than `version`. */
async function newerLive(metadata: MetadataOperations, key: string, location: string, version: number): Promise<Replica | undefined> {
  const live = await metadata.liveReplicaAt(key, location);
  return live !== undefined && live.replica.state === 'verified' && live.replica.version > version ? live.replica : undefined;
}

/** The error says the source copy itself is gone or not the recorded object (not the target's trouble). */
function sourceIsGone(err: unknown, source: Replica): boolean {
  if (!isMovingDataError(err)) return false;
  if (err.code !== 'not_found' && err.code !== 'integrity_mismatch') return false;
  return (err.details as { location?: unknown } | undefined)?.location === source.location;
}

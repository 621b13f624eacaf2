/**
 * The metadata port: what MovingData remembers about files, their versions and where each
 * version is stored. Database-agnostic on purpose — no SQL or driver type appears here — so a
 * MongoDB adapter (the seed's `MONGO_URL`) can sit behind the same interface later.
 *
 * Adapters (one folder each under src/metadata/): `pglite/` (embedded, the default) and
 * `postgres/` share the Kysely implementation in `sql/`; every adapter runs the conformance
 * suite in `conformance/suite.ts`.
 *
 * Conventions every adapter keeps:
 * - Ids are opaque strings; compare them, never parse them.
 * - Absent values in records are `null` (records cross JSON boundaries unchanged); optional
 *   inputs are `undefined`.
 * - Sizes are JS numbers (exact up to 2^53 bytes); timestamps are `Date` with millisecond
 *   precision, set by the database clock so every process agrees on ordering.
 * - Errors are `MovingDataError`: `not_found`, `conflict` (unique key taken, file deleted,
 *   lost race), `invalid_argument` / `invalid_key` (bad input), `unavailable` (database down,
 *   retryable). A compare-and-set that loses is not an error: it returns `applied: false`.
 * - Principals (API tokens with roles), the hash-chained audit trail and the job queue are
 *   sub-ports: `store.principals`, `store.audit` and `store.jobs`.
 * - Listings are keyset-paginated with opaque cursors, so a scan of 100k+ rows costs the
 *   same per page at the end as at the start, and rows inserted meanwhile are neither skipped
 *   nor repeated before the cursor.
 */

export type FileId = string;

export const VERSION_STATES = ['pending', 'committed', 'failed', 'deleted'] as const;
/**
 * - `pending`: number allocated, bytes being written; size and sha256 may still be unknown.
 * - `committed`: complete, size and sha256 known; the highest committed version is current.
 * - `failed`: the write was abandoned; its replicas are to be cleaned up.
 * - `deleted`: purged from every location.
 */
export type VersionState = (typeof VERSION_STATES)[number];

export const REPLICA_STATES = ['pending', 'writing', 'verified', 'failed', 'deleted'] as const;
/**
 * - `pending`: planned, nothing written yet (a crash here leaves nothing to clean).
 * - `writing`: bytes may exist at the location; an object there is accounted for, not an orphan.
 * - `verified`: written and its checksums checked.
 * - `failed`: gave up after `attempts`; visible for repair or a human.
 * - `deleted`: removed from the location (kept as history).
 */
export type ReplicaState = (typeof REPLICA_STATES)[number];

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | readonly JsonValue[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export type EncryptionFormat = 'age' | 'fernet' | 'none';

/**
 * How bytes were sealed. On a version: the payload's format (shared by every copy). On a
 * replica: the location-specific part (e.g. which recipient keys wrap the file key in that
 * copy's age header), which a key rotation or a move re-wraps without touching the payload.
 */
export interface EncryptionDescriptor {
  readonly format: EncryptionFormat;
  /** Identifiers of the keys involved (never key material). */
  readonly keyIds: readonly string[];
  /** Format-specific parameters (chunk size, header hash, ...). */
  readonly params?: JsonObject;
}

/** Lowercase hex digests (or the provider's etag) of the stored, encrypted bytes. */
export type ProviderChecksums = Readonly<Partial<Record<'md5' | 'crc32c' | 'crc32' | 'sha256' | 'etag', string>>>;

export interface FileRecord {
  readonly id: FileId;
  /** Logical key, unique among live (not deleted) files. */
  readonly key: string;
  readonly contentType: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Highest committed version, or null while none is committed. */
  readonly currentVersion: number | null;
  /** Set when the file was soft-deleted; its key may then be reused by a new file. */
  readonly deletedAt: Date | null;
}

export interface FileVersion {
  readonly fileId: FileId;
  /** 1, 2, 3, ... per file, allocated atomically, never reused. */
  readonly version: number;
  readonly state: VersionState;
  /** Plaintext size in bytes; null only while pending. */
  readonly size: number | null;
  /** Lowercase hex SHA-256 of the plaintext; null only while pending. */
  readonly sha256: string | null;
  readonly encryption: EncryptionDescriptor;
  /** User metadata, as given. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Principal who wrote it (API token name, `system`, ...). */
  readonly writtenBy: string | null;
  /** The content type it was written with (served with it), if any. */
  readonly contentType: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface Replica {
  readonly id: string;
  readonly fileId: FileId;
  readonly version: number;
  /** Configured location name (`aws`, `azure`, `gcp`, ...). One replica per (version, location). */
  readonly location: string;
  /** Key of the object in that location's store. */
  readonly objectKey: string;
  readonly state: ReplicaState;
  /** Size of the stored (encrypted) object in bytes, once known. */
  readonly storedSize: number | null;
  readonly checksums: ProviderChecksums;
  /** Provider-native tier name (`STANDARD_IA`, `Cool`, ...), once known. */
  readonly tier: string | null;
  readonly encryption: EncryptionDescriptor | null;
  /** Attempts counted by the caller (`countAttempt`), for backoff and dead-lettering. */
  readonly attempts: number;
  readonly lastError: string | null;
  readonly verifiedAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface ReplicaRef {
  readonly fileId: FileId;
  readonly version: number;
  readonly location: string;
}

export interface NewFile {
  readonly key: string;
  readonly contentType?: string;
}

export interface NewVersion {
  readonly fileId: FileId;
  /** Default `pending`. Adding a `committed` version makes it current at once. */
  readonly state?: 'pending' | 'committed';
  readonly size?: number;
  readonly sha256?: string;
  readonly encryption: EncryptionDescriptor;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly writtenBy?: string;
  readonly contentType?: string;
}

/**
 * The start of a write (`beginWrite`): the live file with `key` (created if there is none), a new
 * pending version of it, and a `writing` copy at each of `copies`, all under one object name.
 */
export interface NewWrite {
  readonly key: string;
  /** The file's content type if this write creates it, and the version's. */
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly writtenBy?: string;
  readonly encryption: EncryptionDescriptor;
  /**
   * The copies' object name is `before + version + after` (the version is only known inside the
   * statement that numbers it): see src/replication/object-names.ts.
   */
  readonly objectKey: { readonly before: string; readonly after: string };
  readonly copies: ReadonlyArray<{ readonly location: string; readonly encryption: EncryptionDescriptor }>;
}

export interface WriteStarted {
  readonly file: FileRecord;
  readonly version: FileVersion;
  /** One `writing` copy per location asked for, in no particular order. */
  readonly replicas: readonly Replica[];
}

/** What one copy of a write became: stored (and read back as recorded), or failed. */
export type CopyOutcome =
  | {
      readonly location: string;
      readonly stored: { readonly storedSize: number; readonly checksums: ProviderChecksums; readonly tier?: string; readonly encryption: EncryptionDescriptor };
    }
  | { readonly location: string; readonly error: string };

/** The end of a write (`commitWrite`). */
export interface WriteCommit {
  readonly fileId: FileId;
  readonly version: number;
  readonly size: number;
  readonly sha256: string;
  readonly copies: readonly CopyOutcome[];
  /** Recorded in the commit's own transaction: a write is committed with its entries or not at all. */
  readonly audit: readonly NewAuditEntry[];
}

export type WriteCommitted =
  | {
      readonly applied: true;
      readonly file: FileRecord;
      readonly version: FileVersion;
      /** This version's copies at the locations in `copies`, as they now are. */
      readonly replicas: readonly Replica[];
      /** The copies the stored ones replaced (now `deleted`): their objects are to be removed. */
      readonly superseded: readonly Replica[];
      readonly audit: readonly AuditEntry[];
    }
  /** The version was no longer pending (abandoned meanwhile): nothing changed, nothing recorded. */
  | { readonly applied: false; readonly version: FileVersion };

/** A guarded state change: applies only if the row is currently in one of `from`. */
export interface VersionTransition {
  readonly from: VersionState | readonly VersionState[];
  readonly to: VersionState;
  /** Known once the bytes have streamed through; required (here or before) to commit. */
  readonly size?: number;
  readonly sha256?: string;
}

export interface ReplicaUpsert extends ReplicaRef {
  readonly objectKey: string;
  /** Default `pending`. The upsert is unguarded: use `transitionReplica` to change state safely. */
  readonly state?: ReplicaState;
  readonly storedSize?: number;
  readonly checksums?: ProviderChecksums;
  readonly tier?: string;
  readonly encryption?: EncryptionDescriptor;
}

/**
 * A guarded replica state change. Fields left undefined keep their value; `lastError: null`
 * clears it. Reaching `verified` stamps `verifiedAt` and clears `lastError` unless one is given.
 */
export interface ReplicaTransition {
  readonly from: ReplicaState | readonly ReplicaState[];
  readonly to: ReplicaState;
  readonly objectKey?: string;
  readonly storedSize?: number;
  readonly checksums?: ProviderChecksums;
  readonly tier?: string;
  readonly encryption?: EncryptionDescriptor;
  readonly lastError?: string | null;
  /** Add one to `attempts` (a write or repair was tried). */
  readonly countAttempt?: boolean;
}

/** Outcome of a compare-and-set: the new row, or the row as it was when the guard failed. */
export type Transition<T> = { readonly applied: true; readonly value: T } | { readonly applied: false; readonly current: T };

export interface Page<T> {
  readonly items: readonly T[];
  /** Opaque cursor for the next page, valid with the same filters; absent on the last page. */
  readonly nextCursor?: string;
}

export interface PageOptions {
  readonly cursor?: string;
  /** Items per page; defaults and caps are per listing (see each method). */
  readonly limit?: number;
}

export interface LocationReplicaQuery extends PageOptions {
  /** Only object keys starting with this prefix. */
  readonly prefix?: string;
  readonly states?: readonly ReplicaState[];
}

export interface InventoryQuery extends PageOptions {
  /** Only file keys starting with this prefix. */
  readonly prefix?: string;
  /** Only files with a live replica (see `InventoryEntry`) at this location ... */
  readonly location?: string;
  /** ... in one of these states (combined with `location`, the same replica matches both). */
  readonly replicaStates?: readonly ReplicaState[];
  /**
   * Only files with a live replica at one of these locations, and only those replicas in each
   * entry: the caller's visible locations, applied before paging so that neither the items nor
   * the cursor carry anything of another location.
   */
  readonly locations?: readonly string[];
  /** Include soft-deleted files (default false). */
  readonly includeDeleted?: boolean;
  /**
   * Only files whose key contains this, ignoring ASCII case (at most 256 characters). Unlike
   * `prefix` it cannot use the key index: the listing walks the sort order until a page is full.
   */
  readonly search?: string;
  /**
   * Only files with a live replica at one of these locations whose tier is one of the names
   * given for it (null: the store's default, no tier recorded); the same replica matches
   * `location` and `replicaStates` too.
   */
  readonly replicaTiers?: ReadonlyArray<{ readonly location: string; readonly tiers: readonly (string | null)[] }>;
  /**
   * Order (default `key`): by key; by the current version's plaintext size (files with no
   * committed version are left out); or by when the file last changed (`FileRecord.updatedAt`).
   * Ties break on the file id. A cursor is valid with the sort and order it was made with.
   */
  readonly sort?: InventorySort;
  /** Default `asc`. */
  readonly order?: 'asc' | 'desc';
}

export const INVENTORY_SORTS = ['key', 'size', 'updated_at'] as const;
export type InventorySort = (typeof INVENTORY_SORTS)[number];

export interface InventoryEntry {
  readonly file: FileRecord;
  /** The file's last committed version, or null. */
  readonly current: FileVersion | null;
  /**
   * Live replicas: of a committed version, not deleted (each location's own copy, whichever
   * version it holds), by location. A replica of an older version than `current` is stale.
   */
  readonly replicas: readonly Replica[];
  /** The versions those replicas hold (and `current`), by version number. */
  readonly versions: readonly FileVersion[];
}

/**
 * Live replicas (of a committed version, not deleted, of a file not deleted) counted per
 * location, replica state and tier: what the dashboard's overview shows per location.
 */
export interface InventorySummaryRow {
  readonly location: string;
  readonly state: ReplicaState;
  readonly tier: string | null;
  /** Live replicas (copies) in this group. */
  readonly objects: number;
  /** Plaintext bytes of the versions those copies hold. */
  readonly bytes: number;
  /** Bytes as stored (ciphertext), where recorded. */
  readonly storedBytes: number;
}

/** What a location serves for a key: its live replica, and the version that replica holds. */
export interface LiveReplica {
  readonly file: FileRecord;
  readonly version: FileVersion;
  readonly replica: Replica;
}

/** What this store can do, declared as data so callers ask instead of catching `unsupported`. */
export interface MetadataFeatures {
  /** Several processes may open the same store at once (PostgreSQL yes, embedded PGlite no). */
  readonly multiProcess: boolean;
  /** Row locking with `FOR UPDATE SKIP LOCKED` is available for job queues. */
  readonly skipLocked: boolean;
}

/** Everything that can run inside a transaction. */
export interface MetadataOperations {
  /** Appends events to the outbox, in the transaction when called on `tx`. */
  appendEvents(records: readonly OutboxRecord[]): Promise<void>;
  /**
   * Start a write in one round trip: `ensureFile` + `addVersion` + one `writing` copy per location
   * (see NewWrite). Concurrent writers of one key get the same file and distinct versions.
   */
  beginWrite(input: NewWrite): Promise<WriteStarted>;
  /** Create a file; `conflict` if a live file already has this key. */
  createFile(input: NewFile): Promise<FileRecord>;
  /**
   * Return the live file with this key, creating it (with `contentType`) if there is none.
   * Concurrent callers all get the same file, and exactly one of them `created: true`.
   */
  ensureFile(input: NewFile): Promise<{ readonly file: FileRecord; readonly created: boolean }>;
  /** By id, deleted or not; `not_found` if there is no such file. */
  getFile(id: FileId): Promise<FileRecord>;
  /** The live file with this key, if any. */
  findFileByKey(key: string): Promise<FileRecord | undefined>;
  /** Soft-delete a live file (its versions and replicas stay); `not_found` if not live. */
  deleteFile(id: FileId): Promise<FileRecord>;
  /**
   * Lock the file's row until the transaction ends (`SELECT ... FOR UPDATE`) and return it:
   * what a caller reads and writes of the file after this is serialised with every other
   * locker, version transitions included. Use inside `transaction`. `not_found` if no such file.
   */
  lockFile(id: FileId): Promise<FileRecord>;
  /**
   * Soft-delete the file if nothing of it is left: no pending version, and no replica of a
   * committed version other than `deleted`. Returns whether it was deleted (false: still in
   * use, or already deleted). Takes the file's row lock.
   */
  deleteFileIfUnused(id: FileId): Promise<boolean>;

  /**
   * Allocate the next version number of a live file and record it. Concurrent callers get
   * distinct, gap-free numbers. `not_found` for an unknown file, `conflict` for a deleted one.
   */
  addVersion(input: NewVersion): Promise<FileVersion>;
  getVersion(fileId: FileId, version: number): Promise<FileVersion>;
  /** All versions of a file, oldest first. */
  listVersions(fileId: FileId): Promise<FileVersion[]>;
  /**
   * Guarded version state change. Committing makes that version the file's current one (the
   * last commit wins); when the current version stops being committed, the highest committed
   * one left becomes current.
   */
  transitionVersion(fileId: FileId, version: number, change: VersionTransition): Promise<Transition<FileVersion>>;

  /** Create or overwrite the replica of a version at a location; `not_found` if no such version. */
  upsertReplica(input: ReplicaUpsert): Promise<Replica>;
  getReplica(ref: ReplicaRef): Promise<Replica>;
  /** Guarded replica state change (compare-and-set on `from`); `not_found` if no such replica. */
  transitionReplica(ref: ReplicaRef, change: ReplicaTransition): Promise<Transition<Replica>>;
  /** Replicas of one version, by location. */
  listReplicasOfVersion(fileId: FileId, version: number): Promise<Replica[]>;
  /** Replicas of every version of a file, by version then location. */
  listReplicasOfFile(fileId: FileId): Promise<Replica[]>;
  /**
   * Replicas at a location in byte order of the object key (the order providers list in, so a
   * drift scan can merge-join both listings). Default 1000 per page, at most 10000.
   */
  listReplicasAtLocation(location: string, query?: LocationReplicaQuery): Promise<Page<Replica>>;
  /**
   * Mark the file's replicas at `location` in one of `states` (default `verified` and `failed`),
   * except those of version `keep`, as `deleted` — they were superseded, by a newer commit there
   * or a delete — and return them so the caller can remove their objects. Use inside
   * `transaction` after `lockFile` or a version transition, so the switch is atomic with what
   * superseded them.
   */
  supersedeReplicas(fileId: FileId, location: string, options?: { readonly keep?: number; readonly states?: readonly ReplicaState[] }): Promise<Replica[]>;
  /**
   * What `location` serves for the live file with this key: its `verified` replica of a
   * committed version (there is at most one, see `supersedeReplicas`), or, when there is none,
   * its newest `failed` one (a copy found damaged: an error, not a 404). One round trip.
   */
  liveReplicaAt(key: string, location: string): Promise<LiveReplica | undefined>;
  /**
   * Replicas in one of `states` not updated for `olderThanMs` (database clock), oldest first:
   * the work a crashed writer left (`writing` of a write that never committed). At most `limit`
   * (default 1000).
   */
  listStaleReplicas(states: readonly ReplicaState[], olderThanMs: number, limit?: number): Promise<Replica[]>;
  /** Files in byte order of their key with their live replicas (see `InventoryEntry`). Default 100, at most 1000. */
  listInventory(query?: InventoryQuery): Promise<Page<InventoryEntry>>;
  /** Live replicas counted by location, state and tier, at `locations` only when given (one statement). */
  summarizeInventory(query?: { readonly locations?: readonly string[] }): Promise<InventorySummaryRow[]>;
}

// ---- principals ---------------------------------------------------------------------------

/**
 * Who calls MovingData: an API token with roles. The token itself is never stored, only its
 * SHA-256 (see src/access/tokens.ts for why a fast hash is right for random tokens).
 */
export interface Principal {
  readonly id: string;
  /**
   * Unique forever: a revoked principal keeps its name, so the audit entries that name it keep
   * meaning one principal. 1..64 of `A-Z a-z 0-9 . _ @ -`, starting with a letter or digit.
   */
  readonly name: string;
  /** Sorted, without duplicates. Each 1..64 of `A-Z a-z 0-9 . _ : -`. May be empty (then it may do nothing). */
  readonly roles: readonly string[];
  /** Lowercase hex SHA-256 of the token; unique. */
  readonly tokenHash: string;
  readonly createdAt: Date;
  /** Set once revoked; a revoked principal is never found by its token. */
  readonly revokedAt: Date | null;
  /** When its token was last accepted, to within the throttle of `touch`. */
  readonly lastUsedAt: Date | null;
}

export interface NewPrincipal {
  readonly name: string;
  readonly roles: readonly string[];
  readonly tokenHash: string;
}

export interface PrincipalUpdate {
  /** A new token (the old one stops working at once). */
  readonly tokenHash?: string;
  readonly roles?: readonly string[];
  /** Clear `revokedAt`: re-issue a revoked principal (the demo admin after a restart). */
  readonly reinstate?: boolean;
}

export interface PrincipalStore {
  /** `conflict` if the name (even a revoked one) or the token hash is taken. */
  create(input: NewPrincipal): Promise<Principal>;
  /** The live (not revoked) principal holding this token hash, if any. */
  findByTokenHash(tokenHash: string): Promise<Principal | undefined>;
  /** By name, revoked or not. */
  findByName(name: string): Promise<Principal | undefined>;
  /** Every principal, revoked ones included, by name. Principals are people and services: few. */
  list(): Promise<Principal[]>;
  /**
   * Revoke by name; idempotent (a second call keeps the first `revokedAt`). `not_found` if no
   * such name. With `keepOne: role`, `conflict` when it is the last live principal holding that
   * role, decided atomically (two concurrent revocations cannot remove the last two).
   */
  revoke(name: string, options?: { readonly keepOne?: string }): Promise<Principal>;
  /** `not_found` if no such name, `conflict` if the new token hash is taken. */
  update(name: string, change: PrincipalUpdate): Promise<Principal>;
  /**
   * Record that the principal's token was just used. Cheap and throttled: it writes at most
   * once a minute per principal, so a busy token does not turn every request into a write.
   */
  touch(id: string): Promise<void>;
}

// ---- audit ----------------------------------------------------------------------------------

export const AUDIT_OUTCOMES = ['allowed', 'denied', 'error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/**
 * Actions MovingData records today. The log accepts any lowercase identifier
 * (`^[a-z][a-z0-9_.]{0,63}$`), so later capabilities add theirs without a migration.
 */
export const AUDIT_ACTIONS = ['write', 'read', 'delete', 'move', 'key_use', 'denied', 'policy', 'token_create', 'token_revoke', 'audit_export'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number] | (string & {});

export interface NewAuditEntry {
  /** Principal name, `system`, or `cli:<user>` for the command line. */
  readonly principal: string;
  readonly action: AuditAction;
  readonly outcome: AuditOutcome;
  readonly location?: string | null;
  readonly objectKey?: string | null;
  /** Identifier of the key used (never key material). */
  readonly keyId?: string | null;
  /** Lowercase hex SHA-256 of the plaintext involved. */
  readonly sha256?: string | null;
  /** Anything else worth keeping, as a JSON object (at most 16 KiB serialised). */
  readonly details?: JsonObject;
  /** Events reporting this entry, appended to the outbox in the entry's own transaction. */
  readonly events?: readonly OutboxRecord[];
}

/**
 * One link of the hash chain. `hash = sha256(prevHash ‖ canonical JSON of every other field)`,
 * exactly as src/metadata/audit-chain.ts defines it; `prevHash` of seq 1 is the genesis value.
 */
export interface AuditEntry {
  /** 1, 2, 3, ... without gaps: a missing number is a deleted entry. */
  readonly seq: number;
  /** Database clock when the entry was chained (millisecond precision, non-decreasing in practice). */
  readonly at: Date;
  readonly principal: string;
  readonly action: AuditAction;
  readonly location: string | null;
  readonly objectKey: string | null;
  readonly keyId: string | null;
  readonly sha256: string | null;
  readonly outcome: AuditOutcome;
  readonly details: JsonObject;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

export type AuditProblemKind = 'edited' | 'deleted_or_inserted' | 'reordered';

export interface AuditProblem {
  /** The first entry found wrong (for a deletion: the first missing seq). */
  readonly seq: number;
  readonly kind: AuditProblemKind;
  readonly message: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Entries checked and found intact (when not ok: those before the problem). */
  readonly entries: number;
  /**
   * The last intact entry: when ok, the head of the log. Record it outside the database (a
   * ticket, a signed e-mail, another system's log): see `AuditLog` for why.
   */
  readonly head: AuditHead | null;
  readonly problem?: AuditProblem;
}

export interface AuditListQuery {
  /** Only entries after this seq (keyset: pass the last seq of the previous page). Default 0. */
  readonly afterSeq?: number;
  /** Default 1000, at most 10000. */
  readonly limit?: number;
}

/**
 * The audit trail: append-only and hash-chained, one linear chain however many callers and
 * processes append at once (adapters serialise appends and number them inside that lock).
 *
 * What the chain proves, and what it cannot: any edited, deleted, inserted or reordered entry
 * breaks a link and `verify` names it — unless the tampering reaches the end of the log. Cutting
 * off the tail (deleting the newest entries), or rewriting every entry from some point to the
 * end with recomputed hashes, leaves a shorter or different chain that is valid on its own,
 * because the chain has no secret. `verify` returns the `head` (seq and hash of the last entry):
 * an operator who records it outside the database (periodically, or with each export) can later
 * check that the entry with that seq still has that hash, which exposes both.
 */
export interface AuditLog {
  /** Chain a new entry: the adapter assigns `seq`, `at`, `prevHash` and `hash`. */
  append(entry: NewAuditEntry): Promise<AuditEntry>;
  /**
   * Events that need no entry of their own (the end of a read), committed to the outbox with the
   * log's next group of appends instead of a transaction of their own.
   */
  appendEvents(records: readonly OutboxRecord[]): Promise<void>;
  /** Entries in seq order, keyset-paginated on seq. */
  list(query?: AuditListQuery): Promise<AuditEntry[]>;
  /**
   * The newest entries naming object `key` at one of `locations` (newest first; default 50, at
   * most 1000): one file's trail, for the dashboard's file detail.
   */
  forObject(query: { readonly key: string; readonly locations: readonly string[]; readonly limit?: number }): Promise<AuditEntry[]>;
  /** The newest entry's seq and hash, or null for an empty log. */
  head(): Promise<AuditHead | null>;
  /**
   * Walk the whole log in pages (constant memory, whatever its length) and recompute every
   * link; stops at the first problem. `pageSize` (default 1000) exists for tests.
   */
  verify(options?: { readonly pageSize?: number }): Promise<AuditVerification>;
  /** Every entry after `afterSeq`, in seq order, read a page at a time: for export. */
  entries(options?: { readonly afterSeq?: number; readonly pageSize?: number }): AsyncIterable<AuditEntry>;
}

// ---- jobs -----------------------------------------------------------------------------------

export type JobId = string;

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'dead'] as const;
/**
 * - `queued`: waiting for `runAfter`, then for a worker.
 * - `running`: claimed by `lockedBy` until `leaseUntil`; a lease that runs out (the worker
 *   died or hung) makes the job claimable again, by anyone.
 * - `succeeded`: finished; `result` holds what the handler returned.
 * - `failed`: finished without retry because the error said retrying cannot help
 *   (`retryable: false`): the job itself is wrong (bad payload, object gone), not the world.
 * - `dead`: finished because every attempt failed or was lost (`attempts` = `maxAttempts`):
 *   the dead-letter state, visible in `counts`, for an operator to look at and `requeueDead`.
 */
export type JobState = (typeof JOB_STATES)[number];

/** States that end a job; its `finishedAt` is then set and its dedupe key is free again. */
export const FINISHED_JOB_STATES = ['succeeded', 'failed', 'dead'] as const satisfies readonly JobState[];

export interface Job {
  readonly id: JobId;
  /** What to do: `replicate`, `move`, `repair`, `verify`, ... (`^[a-z][a-z0-9_.-]{0,63}$`). */
  readonly kind: string;
  /** The job's input: references (file id, version, locations), not data. At most 64 KiB. */
  readonly payload: JsonObject;
  /** Unique per kind among unfinished (queued or running) jobs; see `JobQueue.enqueue`. */
  readonly dedupeKey: string | null;
  readonly state: JobState;
  /** Runs started so far, lost ones included: a claim counts one. */
  readonly attempts: number;
  /** After this many runs it is `dead` rather than queued again. */
  readonly maxAttempts: number;
  /** Not claimed before this time (database clock). */
  readonly runAfter: Date;
  /** The worker running it; on a finished job, the worker that finished it; null while queued. */
  readonly lockedBy: string | null;
  /** While running: when the lease runs out unless the worker heartbeats. Null otherwise. */
  readonly leaseUntil: Date | null;
  /** The most recent failure (a handler's error, or a lost lease), kept across retries. */
  readonly lastError: string | null;
  /** Where a multi-step job got to (e.g. a move's last completed step); survives retries and takeovers. */
  readonly progress: JsonObject;
  /** What a succeeded job returned; null otherwise. */
  readonly result: JsonValue | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Set when it reached `succeeded`, `failed` or `dead`. */
  readonly finishedAt: Date | null;
}

export interface NewJob {
  readonly kind: string;
  /** Default `{}`. */
  readonly payload?: JsonObject;
  readonly dedupeKey?: string;
  /** Default 10, at most 1000. */
  readonly maxAttempts?: number;
  /** Run no earlier than this (a past time is fine: the job is simply due). */
  readonly runAfter?: Date;
  /** Or: run no earlier than this many milliseconds from now, on the database clock. */
  readonly delayMs?: number;
}

export interface EnqueueResult {
  readonly job: Job;
  /** false: an unfinished job of the same kind and dedupe key existed, and `job` is that one. */
  readonly created: boolean;
}

export interface ClaimOptions {
  /** Only these kinds (the ones the worker has handlers for). Default: any kind. */
  readonly kinds?: readonly string[];
  /** Jobs to take at most; default 1, at most 1000. */
  readonly limit?: number;
  /** How long the claim holds without a heartbeat, in ms (1 ms .. 1 day). */
  readonly leaseMs: number;
}

export interface JobFailure {
  /** Wait this long (database clock) before the job may run again. Default 0. */
  readonly retryDelayMs?: number;
  /** false: the error is permanent, the job goes to `failed` at once, whatever attempts remain. Default true. */
  readonly retryable?: boolean;
}

export interface JobListQuery extends PageOptions {
  readonly state?: JobState;
  readonly kind?: string;
  /** `asc` (default): id (= enqueue) order; `desc`: newest first. A cursor holds to the order it was made in. */
  readonly order?: 'asc' | 'desc';
}

/** Jobs of one kind by state, plus two signals an operator watches. */
export interface JobCounts {
  readonly queued: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly dead: number;
  /** Queued jobs that have failed before and wait for their retry. */
  readonly retrying: number;
  /** Running jobs whose lease ran out: their worker is gone or stuck; the next claim takes them over. */
  readonly stalled: number;
}

export interface RequeueFilter {
  readonly kind?: string;
  readonly ids?: readonly JobId[];
  /** Also requeue `failed` jobs (those a handler called permanent). Default false: `dead` only. */
  readonly includeFailed?: boolean;
}

/**
 * The durable job queue: work distributed through the database's row locks
 * (`SELECT ... FOR UPDATE SKIP LOCKED`), not a scheduler of our own. Any number of worker
 * processes claim from it at once; each job is run by one worker at a time, at least once.
 *
 * Guarantees every adapter keeps:
 * - A claim is atomic: two workers never hold the same job; concurrent claimers skip each
 *   other's rows instead of waiting on them.
 * - A worker owns a claimed job while `lockedBy` is its id. A lease that runs out is not lost
 *   by itself: the owner may still heartbeat, save, complete or fail the job until another
 *   worker's claim takes it over. After a takeover, every call of the old owner is refused
 *   (`false` / `applied: false`), so a slow worker can never overwrite the new owner's work.
 * - Delivery is at least once: a worker killed mid-job leaves it `running` until its lease
 *   runs out, then it runs again. Handlers must therefore be idempotent (guarded transitions,
 *   upserts, "already done?" checks); `progress` lets a multi-step job resume where it was.
 * - A job that keeps losing its worker (a handler that crashes the process) is not retried
 *   forever: a takeover that would exceed `maxAttempts` makes it `dead` instead.
 * - Times (`runAfter`, leases) are on the database clock, so workers with skewed clocks agree.
 */
export interface JobQueue {
  /**
   * Add a job, or, when an unfinished job of the same kind has the same `dedupeKey`, return it
   * (`created: false`): producers may enqueue the same work twice. Running jobs count as
   * unfinished: work that must run again after the current run has to use another key.
   */
  enqueue(job: NewJob): Promise<EnqueueResult>;
  /** `enqueue` for many jobs in one transaction; results in input order. At most 10 000. */
  enqueueMany(jobs: readonly NewJob[]): Promise<EnqueueResult[]>;
  /**
   * Take up to `limit` jobs that are due — queued with `runAfter` passed, or running with an
   * expired lease — oldest due first, for `workerId`: each gets `attempts + 1`, `lockedBy` and
   * a lease of `leaseMs`. Returns the claimed jobs (possibly none).
   */
  claim(workerId: string, options: ClaimOptions): Promise<Job[]>;
  /** Extend the lease to now + `leaseMs`; false if the job is no longer this worker's. */
  heartbeat(jobId: JobId, workerId: string, leaseMs: number): Promise<boolean>;
  /** Replace the job's progress; false if the job is no longer this worker's. */
  saveProgress(jobId: JobId, workerId: string, progress: JsonObject): Promise<boolean>;
  /** Mark it `succeeded` with its result. `applied: false` if it is no longer this worker's. `not_found` for an unknown id. */
  complete(jobId: JobId, workerId: string, result?: JsonValue): Promise<Transition<Job>>;
  /**
   * Record a failed run: back to `queued` after `retryDelayMs`, or `dead` once `attempts`
   * reached `maxAttempts`, or `failed` if not `retryable`. `applied: false` if it is no longer
   * this worker's. `not_found` for an unknown id.
   */
  fail(jobId: JobId, workerId: string, error: string, options?: JobFailure): Promise<Transition<Job>>;
  /**
   * Give a claimed job back untouched (a worker shutting down): queued, due now, and the
   * attempt it was claimed with no longer counts. False if it is no longer this worker's.
   */
  release(jobId: JobId, workerId: string): Promise<boolean>;
  /** `not_found` if there is no such job. */
  get(id: JobId): Promise<Job>;
  /** Jobs in id (= enqueue) order, or newest first (`order: 'desc'`), keyset-paginated. Default 100 per page, at most 1000. */
  list(query?: JobListQuery): Promise<Page<Job>>;
  /** Counts by kind (kinds without jobs are absent), e.g. for /consistency/status. */
  counts(): Promise<Readonly<Record<string, JobCounts>>>;
  /**
   * Operator action: put `dead` (and, if asked, `failed`) jobs matching the filter back in the
   * queue with a fresh set of attempts, due now, keeping their progress and last error.
   * Where an unfinished job already holds the same dedupe key, or several matching jobs share
   * one, only the newest of them without a live twin is requeued. Returns how many were.
   */
  requeueDead(filter?: RequeueFilter): Promise<number>;
  /**
   * Delete finished jobs (default: `succeeded` only) that finished more than `olderThanMs`
   * ago, oldest first, at most `limit` (default 10 000, at most 100 000) per call, so the
   * table does not grow forever.
   * Returns how many were deleted.
   */
  purgeFinished(options: { readonly olderThanMs: number; readonly states?: readonly JobState[]; readonly limit?: number }): Promise<number>;
}

// ---- consistency reports --------------------------------------------------------------------

export interface ConsistencyReport {
  readonly location: string;
  /** The scan's summary, as the consistency manager wrote it. */
  readonly report: JsonObject;
  readonly finishedAt: Date;
  /** The last scan of this location that found no drift; null if none has yet. */
  readonly lastCleanAt: Date | null;
}

/** The latest drift scan per location, for /consistency/status. */
export interface ConsistencyReports {
  /** Replace `location`'s report; `clean` (no drift) also moves its `lastCleanAt` to now. */
  save(location: string, report: JsonObject, clean: boolean): Promise<ConsistencyReport>;
  /** Every location's latest report, by location name. */
  latest(): Promise<ConsistencyReport[]>;
}

/** An event for the bus, as the outbox keeps it until a relay has shipped it. */
export interface OutboxRecord {
  readonly topic: string;
  /** Partitioning key (the file key for access events). */
  readonly key: string;
  /** JSON text. */
  readonly value: string;
}

export interface OutboxRow extends OutboxRecord {
  /** Position in the outbox (a decimal integer): the order of commits, per shard. */
  readonly id: string;
  readonly createdAt: Date;
}

/**
 * The transactional outbox (see migrations/006_events.ts). Events reporting an audit entry go
 * in with it (`NewAuditEntry.events`); others with `append` (alone) or `tx.appendEvents`.
 */
export interface Outbox {
  append(records: readonly OutboxRecord[]): Promise<void>;
  /**
   * Takes up to `shards` shards no other relay holds, hands their oldest unsent rows (at most
   * `limit`, in id order per shard) to `ship`, and marks them sent once `ship` resolves, all in
   * one transaction: a relay that dies mid-way leaves its rows unsent for the next one.
   * Resolves with the number shipped (0: nothing to do, or every shard held elsewhere).
   */
  relay(ship: (rows: readonly OutboxRow[]) => Promise<void>, options: { readonly limit: number; readonly shards?: number }): Promise<number>;
  /** Rows not yet shipped, and the creation time of the oldest. */
  stats(): Promise<{ readonly depth: number; readonly oldestAt: Date | null }>;
  /** Deletes rows shipped more than `olderThanMs` ago. */
  purgeSent(olderThanMs: number): Promise<number>;
}

/** A record of the embedded bus's log (src/events/embedded/). */
export interface LogRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly createdAt: Date;
}

/** The embedded bus's storage: Kafka's model (topics, partitions, offsets, groups) in tables. */
export interface EventLog {
  /** Creates the topic's partitions if it has none; resolves with its partition count. */
  ensureTopic(topic: string, partitions: number): Promise<number>;
  /** Partition count of `topic` (0: no such topic). */
  partitions(topic: string): Promise<number>;
  /** Appends records in order, offsets assigned under each partition's lock, in one transaction. */
  append(records: ReadonlyArray<Omit<LogRecord, 'offset' | 'createdAt'>>): Promise<void>;
  /** Records of one partition from `fromOffset` on, in offset order. */
  read(topic: string, partition: number, fromOffset: bigint, limit: number): Promise<LogRecord[]>;
  /** Sets `group`'s next offset to read in a partition (never backwards). */
  commit(group: string, topic: string, partition: number, nextOffset: bigint): Promise<void>;
  /** `group`'s next offsets in `topics`' partitions (absent: none committed). */
  committed(group: string, topics: readonly string[]): Promise<Array<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>>;
  /** Next offset each partition of `topics` will give. */
  endOffsets(topics: readonly string[]): Promise<Array<{ readonly topic: string; readonly partition: number; readonly offset: bigint }>>;
  /** Records `member` alive in `group`; resolves with the live members, sorted, after dropping those silent for `sessionMs`. */
  heartbeat(group: string, member: string, topics: readonly string[], sessionMs: number): Promise<string[]>;
  leave(group: string, member: string): Promise<void>;
  /** Deletes records older than `olderThanMs` (the log's retention). */
  purge(olderThanMs: number): Promise<number>;
}

/** One access event, as the statistics consumer applies it. */
export interface AccessStatEvent {
  readonly eventId: string;
  readonly location: string;
  readonly key: string;
  readonly at: Date;
  readonly kind: 'read' | 'write' | 'delete';
  readonly bytes: number;
  readonly latencyMs: number | null;
  /** A read slower than the alert threshold. */
  readonly spike: boolean;
  readonly synthetic: boolean;
}

export interface AccessDay {
  readonly day: string;
  readonly reads: number;
  readonly writes: number;
  readonly deletes: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly readLatencyMsSum: number;
  readonly readLatencyMsMax: number;
  readonly latencySpikes: number;
  readonly syntheticReads: number;
}

export interface AccessSummary {
  readonly location: string;
  readonly key: string;
  readonly lastReadAt: Date | null;
  readonly lastWriteAt: Date | null;
  readonly days: readonly AccessDay[];
}

/** One file's access over trailing windows, as of a day: the tiering model's access features. */
export interface AccessWindowRow {
  readonly location: string;
  readonly key: string;
  /** Reads over the last 1, 7, 30 and 90 days (the day of `asOf` included). */
  readonly reads: readonly [number, number, number, number];
  readonly bytesRead: readonly [number, number, number, number];
  readonly lastReadAt: Date | null;
  readonly lastWriteAt: Date | null;
  /** Mean read latency over 30 days (null without reads) and spikes over 30 days. */
  readonly meanLatencyMs30: number | null;
  readonly spikes30: number;
}

/** Per-file access statistics (the tiering features), applied idempotently by event id. */
export interface AccessStats {
  /** Keyset pages of per-file windows as of `asOf` (default now), by (location, key). */
  windows(query: { readonly asOf?: Date; readonly location?: string; readonly after?: { readonly location: string; readonly key: string }; readonly limit?: number }): Promise<AccessWindowRow[]>;
  /** Applies the events `group` has not applied yet, in one transaction; resolves with how many were new. */
  apply(group: string, events: readonly AccessStatEvent[]): Promise<number>;
  /** Days of one file at one location since `sinceDay` (YYYY-MM-DD, default all), oldest first. */
  summary(location: string, key: string, sinceDay?: string): Promise<AccessSummary>;
  /** Totals over every file (for tests and metrics). */
  totals(): Promise<{ readonly reads: number; readonly writes: number; readonly deletes: number; readonly bytesRead: number }>;
  /** Forgets applied event ids older than `olderThanMs` (redelivery beyond that is not expected). */
  purgeConsumed(olderThanMs: number): Promise<number>;
}

export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface Alert {
  readonly id: string;
  readonly kind: string;
  readonly subject: string;
  readonly severity: AlertSeverity;
  readonly state: AlertState;
  readonly message: string;
  readonly details: JsonObject;
  readonly occurrences: number;
  readonly firstAt: Date;
  readonly lastAt: Date;
  readonly ackedAt: Date | null;
  readonly ackedBy: string | null;
  readonly resolvedAt: Date | null;
}

export interface NewAlert {
  readonly kind: string;
  readonly subject: string;
  readonly severity: AlertSeverity;
  readonly message: string;
  readonly details?: JsonObject;
}

/** Alerts: one live (open or acknowledged) alert per (kind, subject), de-duplicated while it lasts. */
export interface AlertStore {
  /** Opens an alert, or counts one more occurrence of the live one; `created` says which. */
  raise(alert: NewAlert): Promise<{ readonly alert: Alert; readonly created: boolean }>;
  /** Resolves the live alert of (kind, subject), if any. */
  resolve(kind: string, subject: string): Promise<Alert | undefined>;
  /** Resolves live alerts of `kind` whose last occurrence is older than `quietMs`. */
  resolveQuiet(kind: string, quietMs: number): Promise<Alert[]>;
  acknowledge(id: string, by: string): Promise<Alert>;
  list(query?: { readonly state?: AlertState; readonly kind?: string; readonly afterId?: string; readonly limit?: number }): Promise<Alert[]>;
  counts(): Promise<Array<{ readonly kind: string; readonly state: AlertState; readonly count: number }>>;
}

export interface SensorReading {
  readonly deviceId: string;
  readonly ts: Date;
  readonly value: number;
  readonly score: number;
  readonly flagged: boolean;
  readonly eventId: string | null;
  readonly receivedAt: Date;
}

export interface ScoredReading extends SensorReading {
  readonly id: string;
  readonly scoredAt: Date;
}

/** The latest scored telemetry, bounded by `trim`. */
export interface SensorReadings {
  record(readings: readonly SensorReading[]): Promise<void>;
  /** Newest first, of one device or all. */
  latest(query: { readonly device?: string; readonly limit: number }): Promise<ScoredReading[]>;
  /** Keeps the newest `keep` readings. */
  trim(keep: number): Promise<number>;
}

/** A trained tier model as stored: its version is its identity; the newest is in use. */
export interface StoredTierModel {
  readonly version: number;
  readonly kind: 'gbdt' | 'centroid';
  /** What it learned from: `records` (POST /predictive/train), `access-stats`, `trace:<file>`. */
  readonly trainedOn: string;
  readonly records: number;
  readonly metrics: JsonObject;
  readonly model: JsonObject;
  readonly createdBy: string;
  readonly createdAt: Date;
}

export type NewTierModel = Omit<StoredTierModel, 'version' | 'createdAt'>;

export const TIER_DECISION_STATES = ['dry_run', 'queued', 'applied', 'failed'] as const;
export type TierDecisionState = (typeof TIER_DECISION_STATES)[number];

export interface TierDecision {
  readonly id: string;
  /** The tiering run that made it. */
  readonly runId: string;
  readonly location: string;
  readonly key: string;
  readonly fileId: string;
  readonly version: number;
  /** `tier`: a class change in place; `move`: to another location (`toLocation`). */
  readonly kind: 'tier' | 'move';
  readonly fromTier: string;
  readonly toTier: string;
  readonly toLocation: string;
  /** The proposal before the rules (the model's tier, or the cheapest for the reads). */
  readonly proposed: string;
  readonly confidence: number;
  readonly modelVersion: number | null;
  /** The features it was decided on. */
  readonly inputs: JsonObject;
  /** Every rule's verdict, in order: [{rule, verdict, detail}]. */
  readonly rules: readonly JsonObject[];
  readonly expectedMonthlySaving: number;
  readonly moveCost: number;
  readonly state: TierDecisionState;
  readonly jobId: string | null;
  readonly error: string | null;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type NewTierDecision = Omit<TierDecision, 'id' | 'jobId' | 'error' | 'createdAt' | 'updatedAt'>;

export interface TierPin {
  /** A location name, or `*` for every location. */
  readonly location: string;
  /** Every key starting with this (the empty prefix pins everything). */
  readonly prefix: string;
  readonly tier: 'hot' | 'cool' | 'cold' | 'archive';
  readonly createdBy: string;
  readonly createdAt: Date;
}

/** A committed file's copy at a location with what the tiering run decides on. */
export interface TierCandidate {
  readonly location: string;
  readonly key: string;
  readonly fileId: string;
  readonly version: number;
  readonly size: number;
  /** Provider-native tier name recorded for the copy (null: the store's default). */
  readonly tier: string | null;
  /** When the version was written. */
  readonly writtenAt: Date;
  /** When its tier last changed by a tiering decision (null: never; it has been there since written). */
  readonly tierSince: Date | null;
  /** Access over trailing windows as of `asOf`; zeros and nulls for a file never read. */
  readonly access: Omit<AccessWindowRow, 'location' | 'key'>;
}

export interface TieringStore {
  saveModel(model: NewTierModel): Promise<StoredTierModel>;
  /** The newest model, or undefined before the first training. */
  latestModel(): Promise<StoredTierModel | undefined>;
  /** Models newest first, without their trees. */
  listModels(limit?: number): Promise<Array<Omit<StoredTierModel, 'model'>>>;
  recordDecisions(decisions: readonly NewTierDecision[]): Promise<TierDecision[]>;
  /** Moves a decision on (queued with its job, applied, failed with the error). */
  updateDecision(id: string, change: { readonly state: TierDecisionState; readonly jobId?: string; readonly error?: string }): Promise<TierDecision>;
  getDecision(id: string): Promise<TierDecision>;
  /** The newest decision of each (location, key) given that has one (one statement, whatever the number). */
  latestDecisions(pairs: ReadonlyArray<{ readonly location: string; readonly key: string }>): Promise<TierDecision[]>;
  /** Newest first; `beforeId` pages towards older ones. */
  listDecisions(query?: { readonly location?: string; readonly key?: string; readonly state?: TierDecisionState; readonly runId?: string; readonly beforeId?: string; readonly limit?: number }): Promise<TierDecision[]>;
  /**
   * Committed files' verified copies at one location with their access windows, in key order,
   * keyset-paginated (`afterKey`): the tiering run's input.
   */
  candidates(query: { readonly location: string; readonly asOf?: Date; readonly prefix?: string; readonly afterKey?: string; readonly limit?: number }): Promise<TierCandidate[]>;
  listPins(): Promise<TierPin[]>;
  putPin(pin: Omit<TierPin, 'createdAt'>): Promise<TierPin>;
  /** Resolves whether a pin was there. */
  deletePin(location: string, prefix: string): Promise<boolean>;
}

export interface MetadataStore extends MetadataOperations {
  /** Adapter name, e.g. `pglite` or `postgres`. */
  readonly kind: string;
  readonly features: MetadataFeatures;
  /** API tokens and their roles. Not part of `transaction`: they change rarely and alone. */
  readonly principals: PrincipalStore;
  /**
   * The audit trail. Not part of `transaction` on purpose: an append holds the log's one
   * lock, and holding it for a whole business transaction would serialise every writer.
   * (`commitWrite` holds it for a write's commit statements only, never across storage I/O.)
   */
  readonly audit: AuditLog;
  /**
   * The durable job queue shared by every worker process (embedded: by the one process).
   * Not part of `transaction`: jobs outlive the business transactions that enqueue them.
   */
  readonly jobs: JobQueue;
  /** The consistency manager's latest scan per location. Not part of `transaction`. */
  readonly consistency: ConsistencyReports;
  /** The transactional outbox of access events (inside `transaction`: `tx.appendEvents`). */
  readonly outbox: Outbox;
  /** The embedded event bus's log. */
  readonly eventLog: EventLog;
  /** Per-file access statistics. */
  readonly accessStats: AccessStats;
  readonly alerts: AlertStore;
  readonly sensorReadings: SensorReadings;
  /** Tier models, tiering decisions and pins. */
  readonly tiering: TieringStore;
  /**
   * Run `work` in one transaction: everything it does through `tx` commits together, or, if it
   * throws, nothing does (the error is rethrown). Use only `tx` inside: on the embedded store
   * the single connection is held by the transaction, so a call on the store itself would wait
   * for it forever.
   */
  transaction<T>(work: (tx: MetadataOperations) => Promise<T>): Promise<T>;
  /**
   * Commit a write whose copies are stored: under the file's row lock, in one transaction with
   * the write's audit entries (and their events), the version becomes committed and current,
   * each stored copy goes from `writing` to `verified` and supersedes the location's other
   * copies, each failed one becomes `failed`. Group-committed with the audit log's appends: under
   * load many writes share one transaction. Not available inside `transaction`.
   */
  commitWrite(input: WriteCommit): Promise<WriteCommitted>;
  /** One round trip to the database, for /health. Throws `unavailable` when it cannot answer. */
  ping(): Promise<{ readonly latencyMs: number }>;
  /** Release the database (connections, file lock). Idempotent. */
  close(): Promise<void>;
}

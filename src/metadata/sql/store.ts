/**
 * The metadata store on Kysely, shared by the PGlite and PostgreSQL adapters: they differ only
 * in how they connect (see ../pglite/ and ../postgres/). Every query here is plain PostgreSQL
 * that both run identically; every value read goes through rows.ts, every driver error through
 * errors.ts.
 *
 * Concurrency model (READ COMMITTED, the default on both):
 * - Version numbers come from `files.last_version`, bumped with UPDATE ... RETURNING, which
 *   holds the file row lock until the transaction ends: concurrent writers queue on that row.
 * - Version transitions lock the file row first (SELECT ... FOR UPDATE), so "current version =
 *   highest committed" is recomputed from a snapshot taken after every competing commit.
 * - Replica transitions are one guarded UPDATE (compare-and-set on the state): the database
 *   decides which of two racing callers wins, and the loser is told, not overwritten.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { sql, type Kysely, type Transaction } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import type {
  AuditLog,
  FileId,
  FileRecord,
  FileVersion,
  InventoryEntry,
  InventoryQuery,
  InventorySummaryRow,
  ConsistencyReports,
  JobQueue,
  LiveReplica,
  LocationReplicaQuery,
  MetadataFeatures,
  MetadataOperations,
  MetadataStore,
  NewFile,
  NewWrite,
  WriteCommit,
  WriteCommitted,
  WriteStarted,
  NewVersion,
  Page,
  PrincipalStore,
  Replica,
  ReplicaRef,
  ReplicaState,
  ReplicaTransition,
  ReplicaUpsert,
  Transition,
  VersionState,
  VersionTransition,
  AccessStats,
  AlertStore,
  TieringStore,
  EventLog,
  Outbox,
  OutboxRecord,
  SensorReadings,
} from '../port.ts';
import {
  checkChecksums,
  checkEncryption,
  checkErrorMessage,
  checkKey,
  checkLabel,
  checkLimit,
  checkOptionalEncryption,
  checkOptionalLabel,
  checkOptionalSize,
  checkPrefix,
  checkReplicaState,
  checkSha256,
  checkStates,
  checkUserMetadata,
  checkVersionNumber,
  checkVersionState,
} from '../validation.ts';
import { INVENTORY_SORTS } from '../port.ts';
import { SqlAuditLog } from './audit.ts';
import { decodeCursor, decodeIdCursor, encodeCursor, encodeIdCursor, type IdCursorTag } from './cursor.ts';
import { fileIdOrNotFound, guarded, mapDatabaseError, notFound } from './errors.ts';
import { SqlConsistencyReports } from './consistency.ts';
import { SqlJobQueue } from './jobs.ts';
import { SqlAccessStats, SqlAlertStore, SqlEventLog, SqlOutbox, SqlSensorReadings, insertOutbox } from './events.ts';
import { SqlTieringStore } from './tiering.ts';
import { beginWriteStatement } from './writes.ts';
import { SqlPrincipalStore } from './principals.ts';
import { fromJsonRow, jsonText, toFileRecord, toFileVersion, toReplica, toSafeInteger, type FileRow, type ReplicaRow, type VersionRow } from './rows.ts';
import type { Database } from './schema.ts';

const now = sql<Date>`now()`;

const LOCATION_PAGE = { fallback: 1000, max: 10_000 };
const INVENTORY_PAGE = { fallback: 100, max: 1000 };
const MAX_SEARCH_LENGTH = 256;

/**
 * The smallest string that sorts after every string starting with `prefix`, in code point order
 * (= UTF-8 byte order = `collate "C"` order): the last code point plus one, carrying past the
 * surrogate gap and U+10FFFF. Undefined when no such bound exists (prefix of U+10FFFF only).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0) ?? 0);
  while (points.length > 0) {
    const last = points.pop() ?? 0;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return String.fromCodePoint(...points, next);
    }
  }
  return undefined;
}

type Executor = Kysely<Database> | Transaction<Database>;

class SqlOperations implements MetadataOperations {
  readonly #db: Executor;
  readonly #guard: (() => void) | undefined;

  /** `guard` runs before every operation; the store uses it to catch misuse inside a transaction. */
  constructor(db: Executor, guard?: () => void) {
    this.#db = db;
    this.#guard = guard;
  }

  /** Runs `work` in the caller's transaction if there is one, else in a new one. */
  async #atomic<T>(work: (db: Executor) => Promise<T>): Promise<T> {
    if (this.#db.isTransaction) return work(this.#db);
    return this.#db.transaction().execute(work);
  }

  #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return guarded(this.#guard, operation, work);
  }

  appendEvents(records: readonly OutboxRecord[]): Promise<void> {
    return this.#run('appendEvents', () => insertOutbox(this.#db, records));
  }

  beginWrite(input: NewWrite): Promise<WriteStarted> {
    return this.#run('beginWrite', () => beginWriteStatement(this.#db, input));
  }

  // ---- files --------------------------------------------------------------------------------

  async createFile(input: NewFile): Promise<FileRecord> {
    const key = checkKey(input.key);
    const contentType = checkOptionalLabel(input.contentType, 'contentType') ?? null;
    return this.#run('createFile', async () => {
      try {
        const row = await this.#db.insertInto('files').values({ key, content_type: contentType }).returningAll().executeTakeFirstOrThrow();
        return toFileRecord(row);
      } catch (err) {
        const mapped = mapDatabaseError(err, 'createFile');
        if (mapped.code === 'conflict') {
          throw new MovingDataError('conflict', `a live file with key ${JSON.stringify(key)} already exists`, { retryable: false, cause: err, details: { key } });
        }
        throw mapped;
      }
    });
  }

  async ensureFile(input: NewFile): Promise<{ file: FileRecord; created: boolean }> {
    const key = checkKey(input.key);
    const contentType = checkOptionalLabel(input.contentType, 'contentType') ?? null;
    return this.#run('ensureFile', async () => {
      // Insert-or-nothing, then read: the partial unique index arbitrates concurrent creators.
      // If the winner's file is deleted between the two statements, try again.
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const inserted = await this.#db
          .insertInto('files')
          .values({ key, content_type: contentType })
          .onConflict((oc) => oc.column('key').where('deleted_at', 'is', null).doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted) return { file: toFileRecord(inserted), created: true };
        const existing = await this.#liveFileByKey(key);
        if (existing) return { file: existing, created: false };
      }
      throw new MovingDataError('conflict', `file ${JSON.stringify(key)} keeps being created and deleted; try again`, { retryable: true, details: { key } });
    });
  }

  async getFile(id: FileId): Promise<FileRecord> {
    const fileId = fileIdOrNotFound(id);
    return this.#run('getFile', async () => {
      const row = await this.#db.selectFrom('files').selectAll().where('id', '=', fileId).executeTakeFirst();
      if (!row) throw notFound(`no file with id ${id}`, { fileId: id });
      return toFileRecord(row);
    });
  }

  async findFileByKey(key: string): Promise<FileRecord | undefined> {
    checkKey(key);
    return this.#run('findFileByKey', () => this.#liveFileByKey(key));
  }

  async #liveFileByKey(key: string): Promise<FileRecord | undefined> {
    const row = await this.#db.selectFrom('files').selectAll().where('key', '=', key).where('deleted_at', 'is', null).executeTakeFirst();
    return row ? toFileRecord(row) : undefined;
  }

  async deleteFile(id: FileId): Promise<FileRecord> {
    const fileId = fileIdOrNotFound(id);
    return this.#run('deleteFile', async () => {
      const row = await this.#db
        .updateTable('files')
        .set({ deleted_at: now, updated_at: now })
        .where('id', '=', fileId)
        .where('deleted_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound(`no live file with id ${id}`, { fileId: id });
      return toFileRecord(row);
    });
  }

  async lockFile(id: FileId): Promise<FileRecord> {
    const fileId = fileIdOrNotFound(id);
    return this.#run('lockFile', async () => {
      const row = await this.#db.selectFrom('files').selectAll().where('id', '=', fileId).forUpdate().executeTakeFirst();
      if (!row) throw notFound(`no file with id ${id}`, { fileId: id });
      return toFileRecord(row);
    });
  }

  async deleteFileIfUnused(id: FileId): Promise<boolean> {
    const fileId = fileIdOrNotFound(id);
    return this.#run('deleteFileIfUnused', () =>
      this.#atomic(async (db) => {
        const file = await db.selectFrom('files').select(['id', 'deleted_at']).where('id', '=', fileId).forUpdate().executeTakeFirst();
        if (!file || file.deleted_at !== null) return false;
        const pending = await db.selectFrom('file_versions').select('version').where('file_id', '=', fileId).where('state', '=', 'pending').limit(1).executeTakeFirst();
        if (pending) return false;
        const live = await db
          .selectFrom('replicas as r')
          .innerJoin('file_versions as v', (j) => j.onRef('v.file_id', '=', 'r.file_id').onRef('v.version', '=', 'r.version'))
          .select('r.id')
          .where('r.file_id', '=', fileId)
          .where('r.state', '<>', 'deleted')
          .where('v.state', '=', 'committed')
          .limit(1)
          .executeTakeFirst();
        if (live) return false;
        await db.updateTable('files').set({ deleted_at: now, updated_at: now }).where('id', '=', fileId).execute();
        return true;
      }),
    );
  }

  // ---- versions -----------------------------------------------------------------------------

  async addVersion(input: NewVersion): Promise<FileVersion> {
    const fileId = fileIdOrNotFound(input.fileId);
    const state: VersionState = input.state === undefined ? 'pending' : checkVersionState(input.state);
    if (state !== 'pending' && state !== 'committed') {
      throw new MovingDataError('invalid_argument', 'a new version is pending or committed', { retryable: false, details: { state } });
    }
    const size = checkOptionalSize(input.size) ?? null;
    const sha256 = checkSha256(input.sha256) ?? null;
    if (state === 'committed' && (size === null || sha256 === null)) {
      throw new MovingDataError('invalid_argument', 'a committed version needs its size and sha256', { retryable: false });
    }
    const encryption = checkEncryption(input.encryption);
    const metadata = checkUserMetadata(input.metadata);
    const writtenBy = checkOptionalLabel(input.writtenBy, 'writtenBy') ?? null;
    const contentType = checkOptionalLabel(input.contentType, 'contentType') ?? null;

    return this.#run('addVersion', () =>
      this.#atomic(async (db) => {
        // The row lock taken here serialises concurrent writers of this file until commit.
        const bumped = await db
          .updateTable('files')
          .set((eb) => ({ last_version: eb('last_version', '+', 1), updated_at: now }))
          .where('id', '=', fileId)
          .where('deleted_at', 'is', null)
          .returning('last_version')
          .executeTakeFirst();
        if (!bumped) {
          const file = await db.selectFrom('files').select('id').where('id', '=', fileId).executeTakeFirst();
          if (!file) throw notFound(`no file with id ${input.fileId}`, { fileId: input.fileId });
          throw new MovingDataError('conflict', `file ${input.fileId} is deleted`, { retryable: false, details: { fileId: input.fileId } });
        }
        const version = bumped.last_version;
        const row = await db
          .insertInto('file_versions')
          .values({
            file_id: fileId,
            version,
            state,
            size,
            sha256,
            encryption: jsonText(encryption),
            metadata: jsonText(metadata),
            written_by: writtenBy,
            content_type: contentType,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        if (state === 'committed') {
          await db
            .updateTable('files')
            .set((eb) => ({
              current_version: sql<number>`greatest(${eb.ref('current_version')}, ${version})`,
              current_size: sql<number>`case when coalesce(${eb.ref('current_version')}, 0) < ${version} then ${size}::bigint else ${eb.ref('current_size')} end`,
            }))
            .where('id', '=', fileId)
            .execute();
        }
        return toFileVersion(row);
      }),
    );
  }

  async getVersion(id: FileId, version: number): Promise<FileVersion> {
    const fileId = fileIdOrNotFound(id);
    checkVersionNumber(version);
    return this.#run('getVersion', async () => {
      const row = await this.#db.selectFrom('file_versions').selectAll().where('file_id', '=', fileId).where('version', '=', version).executeTakeFirst();
      if (!row) throw notFound(`no version ${version} of file ${id}`, { fileId: id, version });
      return toFileVersion(row);
    });
  }

  async listVersions(id: FileId): Promise<FileVersion[]> {
    const fileId = fileIdOrNotFound(id);
    return this.#run('listVersions', async () => {
      const rows = await this.#db.selectFrom('file_versions').selectAll().where('file_id', '=', fileId).orderBy('version').execute();
      return rows.map(toFileVersion);
    });
  }

  async transitionVersion(id: FileId, version: number, change: VersionTransition): Promise<Transition<FileVersion>> {
    const fileId = fileIdOrNotFound(id);
    checkVersionNumber(version);
    const from = checkStates(change.from, checkVersionState);
    const to = checkVersionState(change.to);
    const size = checkOptionalSize(change.size);
    const sha256 = checkSha256(change.sha256);

    return this.#run('transitionVersion', () =>
      this.#atomic(async (db): Promise<Transition<FileVersion>> => {
        const file = await db.selectFrom('files').select('id').where('id', '=', fileId).forUpdate().executeTakeFirst();
        if (!file) throw notFound(`no file with id ${id}`, { fileId: id });
        const row = await db.selectFrom('file_versions').selectAll().where('file_id', '=', fileId).where('version', '=', version).executeTakeFirst();
        if (!row) throw notFound(`no version ${version} of file ${id}`, { fileId: id, version });
        // The file row lock makes this read-check-write safe against other transitions.
        if (!(from as string[]).includes(row.state)) return { applied: false, current: toFileVersion(row) };
        if (to === 'committed' && (size ?? row.size) === null) {
          throw new MovingDataError('invalid_argument', 'a committed version needs its size', { retryable: false, details: { fileId: id, version } });
        }
        if (to === 'committed' && (sha256 ?? row.sha256) === null) {
          throw new MovingDataError('invalid_argument', 'a committed version needs its sha256', { retryable: false, details: { fileId: id, version } });
        }
        const updated = await db
          .updateTable('file_versions')
          .set({
            state: to,
            updated_at: now,
            ...(size === undefined ? {} : { size }),
            ...(sha256 === undefined ? {} : { sha256 }),
          })
          .where('file_id', '=', fileId)
          .where('version', '=', version)
          .returningAll()
          .executeTakeFirstOrThrow();
        if (to === 'committed') {
          // The last commit wins: under the file's row lock, commits are totally ordered.
          await db.updateTable('files').set({ current_version: version, current_size: sql<number>`${size ?? row.size}::bigint`, updated_at: now }).where('id', '=', fileId).execute();
        } else if (row.state === 'committed') {
          await db
            .updateTable('files')
            .set({
              current_version: (eb) =>
                eb
                  .selectFrom('file_versions')
                  .select((e) => e.fn.max('version').as('v'))
                  .where('file_id', '=', fileId)
                  .where('state', '=', 'committed'),
              current_size: sql<number>`(select size from file_versions where file_id = ${fileId}::bigint and state = 'committed' order by version desc limit 1)`,
              updated_at: now,
            })
            .where('id', '=', fileId)
            .execute();
        }
        return { applied: true, value: toFileVersion(updated) };
      }),
    );
  }

  // ---- replicas -----------------------------------------------------------------------------

  async upsertReplica(input: ReplicaUpsert): Promise<Replica> {
    const fileId = fileIdOrNotFound(input.fileId);
    const version = checkVersionNumber(input.version);
    const location = checkLabel(input.location, 'location');
    const objectKey = checkKey(input.objectKey, 'objectKey');
    const state = input.state === undefined ? 'pending' : checkReplicaState(input.state);
    const storedSize = checkOptionalSize(input.storedSize, 'storedSize');
    const checksums = checkChecksums(input.checksums);
    const tier = checkOptionalLabel(input.tier, 'tier');
    const encryption = checkOptionalEncryption(input.encryption);

    return this.#run('upsertReplica', async () => {
      try {
        const row = await this.#db
          .insertInto('replicas')
          .values({
            file_id: fileId,
            version,
            location,
            object_key: objectKey,
            state,
            stored_size: storedSize ?? null,
            checksums: jsonText(checksums ?? {}),
            tier: tier ?? null,
            encryption: encryption === undefined ? null : jsonText(encryption),
            verified_at: state === 'verified' ? now : null,
          })
          .onConflict((oc) =>
            oc.constraint('replicas_version_location_uq').doUpdateSet((eb) => ({
              // Given fields replace, omitted ones keep what the replica had.
              object_key: eb.ref('excluded.object_key'),
              state: eb.ref('excluded.state'),
              updated_at: now,
              verified_at: state === 'verified' ? now : eb.ref('replicas.verified_at'),
              ...(storedSize === undefined ? {} : { stored_size: eb.ref('excluded.stored_size') }),
              ...(checksums === undefined ? {} : { checksums: eb.ref('excluded.checksums') }),
              ...(tier === undefined ? {} : { tier: eb.ref('excluded.tier') }),
              ...(encryption === undefined ? {} : { encryption: eb.ref('excluded.encryption') }),
            })),
          )
          .returningAll()
          .executeTakeFirstOrThrow();
        return toReplica(row);
      } catch (err) {
        const mapped = mapDatabaseError(err, 'upsertReplica');
        if (mapped.code === 'not_found') {
          throw notFound(`no version ${version} of file ${input.fileId}`, { fileId: input.fileId, version });
        }
        throw mapped;
      }
    });
  }

  async getReplica(ref: ReplicaRef): Promise<Replica> {
    const fileId = fileIdOrNotFound(ref.fileId);
    const version = checkVersionNumber(ref.version);
    const location = checkLabel(ref.location, 'location');
    return this.#run('getReplica', async () => {
      const replica = await this.#findReplica(fileId, version, location);
      if (!replica) throw notFound(`no replica of version ${version} of file ${ref.fileId} at ${location}`, { ...ref });
      return replica;
    });
  }

  async #findReplica(fileId: string, version: number, location: string): Promise<Replica | undefined> {
    const row = await this.#db
      .selectFrom('replicas')
      .selectAll()
      .where('file_id', '=', fileId)
      .where('version', '=', version)
      .where('location', '=', location)
      .executeTakeFirst();
    return row ? toReplica(row) : undefined;
  }

  async transitionReplica(ref: ReplicaRef, change: ReplicaTransition): Promise<Transition<Replica>> {
    const fileId = fileIdOrNotFound(ref.fileId);
    const version = checkVersionNumber(ref.version);
    const location = checkLabel(ref.location, 'location');
    const from = checkStates(change.from, checkReplicaState);
    const to = checkReplicaState(change.to);
    const objectKey = change.objectKey === undefined ? undefined : checkKey(change.objectKey, 'objectKey');
    const storedSize = checkOptionalSize(change.storedSize, 'storedSize');
    const checksums = checkChecksums(change.checksums);
    const tier = checkOptionalLabel(change.tier, 'tier');
    const encryption = checkOptionalEncryption(change.encryption);
    // Success clears the previous failure unless the caller says otherwise.
    const lastError = change.lastError === undefined && to === 'verified' ? null : checkErrorMessage(change.lastError);

    return this.#run('transitionReplica', async (): Promise<Transition<Replica>> => {
      // One guarded statement: the compare-and-set happens inside the database.
      const row = await this.#db
        .updateTable('replicas')
        .set((eb) => ({
          state: to,
          updated_at: now,
          ...(to === 'verified' ? { verified_at: now } : {}),
          ...(change.countAttempt === true ? { attempts: eb('attempts', '+', 1) } : {}),
          ...(objectKey === undefined ? {} : { object_key: objectKey }),
          ...(storedSize === undefined ? {} : { stored_size: storedSize }),
          ...(checksums === undefined ? {} : { checksums: jsonText(checksums) }),
          ...(tier === undefined ? {} : { tier }),
          ...(encryption === undefined ? {} : { encryption: jsonText(encryption) }),
          ...(lastError === undefined ? {} : { last_error: lastError }),
        }))
        .where('file_id', '=', fileId)
        .where('version', '=', version)
        .where('location', '=', location)
        .where('state', 'in', from)
        .returningAll()
        .executeTakeFirst();
      if (row) return { applied: true, value: toReplica(row) };
      const current = await this.#findReplica(fileId, version, location);
      if (!current) throw notFound(`no replica of version ${version} of file ${ref.fileId} at ${location}`, { ...ref });
      return { applied: false, current };
    });
  }

  async supersedeReplicas(id: FileId, location: string, options: { readonly keep?: number; readonly states?: readonly ReplicaState[] } = {}): Promise<Replica[]> {
    const fileId = fileIdOrNotFound(id);
    checkLabel(location, 'location');
    const keep = options.keep === undefined ? undefined : checkVersionNumber(options.keep);
    const states = checkStates(options.states ?? ['verified', 'failed'], checkReplicaState);
    return this.#run('supersedeReplicas', async () => {
      let q = this.#db.updateTable('replicas').set({ state: 'deleted', updated_at: now }).where('file_id', '=', fileId).where('location', '=', location).where('state', 'in', states);
      if (keep !== undefined) q = q.where('version', '<>', keep);
      const rows = await q.returningAll().execute();
      return rows.map(toReplica);
    });
  }

  async liveReplicaAt(key: string, location: string): Promise<LiveReplica | undefined> {
    checkKey(key);
    checkLabel(location, 'location');
    return this.#run('liveReplicaAt', async () => {
      const row = await this.#db
        .selectFrom('files as f')
        .innerJoin('replicas as r', 'r.file_id', 'f.id')
        .innerJoin('file_versions as v', (j) => j.onRef('v.file_id', '=', 'r.file_id').onRef('v.version', '=', 'r.version'))
        .select([
          sql<unknown>`to_jsonb(f.*)`.as('f'),
          sql<unknown>`to_jsonb(v.*)`.as('v'),
          sql<unknown>`to_jsonb(r.*)`.as('r'),
        ])
        .where('f.key', '=', key)
        .where('f.deleted_at', 'is', null)
        .where('r.location', '=', location)
        .where('r.state', 'in', ['verified', 'failed'])
        .where('v.state', '=', 'committed')
        .orderBy(sql`r.state = 'verified'`, 'desc')
        .orderBy('r.version', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!row) return undefined;
      return { file: toFileRecord(fromJsonRow<FileRow>(row.f)), version: toFileVersion(fromJsonRow<VersionRow>(row.v)), replica: toReplica(fromJsonRow<ReplicaRow>(row.r)) };
    });
  }

  async listStaleReplicas(states: readonly ReplicaState[], olderThanMs: number, limit?: number): Promise<Replica[]> {
    const wanted = checkStates(states, checkReplicaState);
    if (!Number.isSafeInteger(olderThanMs) || olderThanMs < 0) throw new MovingDataError('invalid_argument', 'olderThanMs must be a non-negative integer', { retryable: false });
    const max = checkLimit(limit, 1000, 10_000);
    return this.#run('listStaleReplicas', async () => {
      const rows = await this.#db
        .selectFrom('replicas')
        .selectAll()
        .where('state', 'in', wanted)
        .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
        .orderBy('updated_at')
        .limit(max)
        .execute();
      return rows.map(toReplica);
    });
  }

  async listReplicasOfVersion(id: FileId, version: number): Promise<Replica[]> {
    const fileId = fileIdOrNotFound(id);
    checkVersionNumber(version);
    return this.#run('listReplicasOfVersion', async () => {
      const rows = await this.#db.selectFrom('replicas').selectAll().where('file_id', '=', fileId).where('version', '=', version).orderBy('location').execute();
      return rows.map(toReplica);
    });
  }

  async listReplicasOfFile(id: FileId): Promise<Replica[]> {
    const fileId = fileIdOrNotFound(id);
    return this.#run('listReplicasOfFile', async () => {
      const rows = await this.#db.selectFrom('replicas').selectAll().where('file_id', '=', fileId).orderBy('version').orderBy('location').execute();
      return rows.map(toReplica);
    });
  }

  async listReplicasAtLocation(location: string, query: LocationReplicaQuery = {}): Promise<Page<Replica>> {
    checkLabel(location, 'location');
    const limit = checkLimit(query.limit, LOCATION_PAGE.fallback, LOCATION_PAGE.max);
    const prefix = checkPrefix(query.prefix);
    const states = query.states === undefined ? undefined : checkStates(query.states, checkReplicaState);
    const after = decodeCursor('location', query.cursor);

    return this.#run('listReplicasAtLocation', async () => {
      let q = this.#db.selectFrom('replicas').selectAll().where('location', '=', location);
      if (prefix !== undefined) {
        // A range, not LIKE: it walks the (location, object_key, id) index directly.
        q = q.where('object_key', '>=', prefix);
        const upper = prefixUpperBound(prefix);
        if (upper !== undefined) q = q.where('object_key', '<', upper);
      }
      if (states !== undefined) q = q.where('state', 'in', states);
      if (after !== undefined) q = q.where(sql<boolean>`(object_key, id) > (${after[0]}, ${after[1]}::bigint)`);
      const rows = await q.orderBy('object_key').orderBy('id').limit(limit + 1).execute();
      const items = rows.slice(0, limit).map(toReplica);
      const last = items.at(-1);
      return rows.length > limit && last ? { items, nextCursor: encodeCursor('location', [last.objectKey, last.id]) } : { items };
    });
  }

  async summarizeInventory(query: { readonly locations?: readonly string[] } = {}): Promise<InventorySummaryRow[]> {
    const visible = query.locations === undefined ? undefined : query.locations.map((l) => checkLabel(l, 'location'));
    return this.#run('summarizeInventory', async () => {
      if (visible !== undefined && visible.length === 0) return [];
      let q = this.#db
        .selectFrom('replicas as r')
        .innerJoin('file_versions as v', (j) => j.onRef('v.file_id', '=', 'r.file_id').onRef('v.version', '=', 'r.version'))
        .innerJoin('files as f', 'f.id', 'r.file_id')
        .select(['r.location', 'r.state', 'r.tier'])
        .select(sql<string>`count(*)`.as('objects'))
        .select(sql<string>`coalesce(sum(v.size), 0)`.as('bytes'))
        .select(sql<string>`coalesce(sum(r.stored_size), 0)`.as('stored_bytes'))
        .where('r.state', '<>', 'deleted')
        .where('v.state', '=', 'committed')
        .where('f.deleted_at', 'is', null);
      if (visible !== undefined) q = q.where('r.location', 'in', visible);
      const rows = await q.groupBy(['r.location', 'r.state', 'r.tier']).orderBy('r.location').orderBy('r.state').execute();
      return rows.map((row) => ({
        location: row.location,
        state: checkReplicaState(row.state),
        tier: row.tier,
        objects: toSafeInteger(row.objects, 'objects'),
        bytes: toSafeInteger(row.bytes, 'bytes'),
        storedBytes: toSafeInteger(row.stored_bytes, 'stored bytes'),
      }));
    });
  }

  async listInventory(query: InventoryQuery = {}): Promise<Page<InventoryEntry>> {
    const limit = checkLimit(query.limit, INVENTORY_PAGE.fallback, INVENTORY_PAGE.max);
    const prefix = checkPrefix(query.prefix);
    const location = checkOptionalLabel(query.location, 'location');
    const states = query.replicaStates === undefined ? undefined : checkStates(query.replicaStates, checkReplicaState);
    const visible = query.locations === undefined ? undefined : query.locations.map((l) => checkLabel(l, 'location'));
    const sort = query.sort ?? 'key';
    const order = query.order ?? 'asc';
    if (!(INVENTORY_SORTS as readonly string[]).includes(sort)) throw new MovingDataError('invalid_argument', `sort is one of ${INVENTORY_SORTS.join(', ')}`, { retryable: false, details: { sort } });
    if (order !== 'asc' && order !== 'desc') throw new MovingDataError('invalid_argument', 'order is asc or desc', { retryable: false, details: { order } });
    const search = query.search === undefined || query.search === '' ? undefined : query.search;
    if (search !== undefined && (search.length > MAX_SEARCH_LENGTH || search.includes('\0') || !search.isWellFormed())) {
      throw new MovingDataError('invalid_argument', `search is at most ${MAX_SEARCH_LENGTH} characters of valid text`, { retryable: false });
    }
    const tiers = query.replicaTiers?.map((t) => ({ location: checkLabel(t.location, 'location'), tiers: t.tiers.map((name) => (name === null ? null : checkLabel(name, 'tier'))) }));
    // Sorted by key ascending, the cursor is the (key, id) it always was; every other order
    // carries the last file's id alone (see cursor.ts).
    const idTag = sort === 'key' && order === 'asc' ? undefined : (`inventory:${sort}:${order}` as IdCursorTag);
    const after = idTag === undefined ? decodeCursor('inventory', query.cursor) : undefined;
    const afterId = idTag === undefined ? undefined : decodeIdCursor(idTag, query.cursor);

    return this.#run('listInventory', async () => {
      if (visible !== undefined && visible.length === 0) return { items: [] };
      if (tiers !== undefined && tiers.every((t) => t.tiers.length === 0)) return { items: [] };
      let q = this.#db.selectFrom('files as f').selectAll('f');
      if (query.includeDeleted !== true) q = q.where('f.deleted_at', 'is', null);
      if (prefix !== undefined) {
        q = q.where('f.key', '>=', prefix);
        const upper = prefixUpperBound(prefix);
        if (upper !== undefined) q = q.where('f.key', '<', upper);
      }
      if (search !== undefined) {
        const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        q = q.where(sql<boolean>`f.key ilike ${pattern} escape '\\'`);
      }
      if (location !== undefined || states !== undefined || visible !== undefined || tiers !== undefined) {
        q = q.where((eb) => {
          let replicas = eb
            .selectFrom('replicas as r')
            .innerJoin('file_versions as v', (j) => j.onRef('v.file_id', '=', 'r.file_id').onRef('v.version', '=', 'r.version'))
            .select(sql`1`.as('one'))
            .whereRef('r.file_id', '=', 'f.id')
            .where('r.state', '<>', 'deleted')
            .where('v.state', '=', 'committed');
          if (location !== undefined) replicas = replicas.where('r.location', '=', location);
          if (states !== undefined) replicas = replicas.where('r.state', 'in', states);
          if (visible !== undefined) replicas = replicas.where('r.location', 'in', visible);
          if (tiers !== undefined) {
            replicas = replicas.where((t) =>
              t.or(
                tiers
                  .filter((x) => x.tiers.length > 0)
                  .map((x) => {
                    const names = x.tiers.filter((n): n is string => n !== null);
                    const tierMatch = [...(names.length > 0 ? [t('r.tier', 'in', names)] : []), ...(x.tiers.includes(null) ? [t('r.tier', 'is', null)] : [])];
                    return t.and([t('r.location', '=', x.location), t.or(tierMatch)]);
                  }),
              ),
            );
          }
          return eb.exists(replicas);
        });
      }
      const column = sort === 'key' ? 'f.key' : sort === 'size' ? 'f.current_size' : 'f.updated_at';
      if (sort === 'size') q = q.where('f.current_size', 'is not', null);
      const cmp = order === 'asc' ? sql.raw('>') : sql.raw('<');
      if (after !== undefined) q = q.where(sql<boolean>`(f.key, f.id) > (${after[0]}, ${after[1]}::bigint)`);
      if (afterId !== undefined) {
        // The next page starts after that file's row as it is now (the cursor carries no value).
        q = q.where(sql<boolean>`(${sql.ref(column)}, f.id) ${cmp} (select ${sql.ref(column.replace('f.', 'c.'))}, c.id from files c where c.id = ${afterId}::bigint)`);
      }
      const rows = await q.orderBy(column, order).orderBy('f.id', order).limit(limit + 1).execute();
      const files = rows.slice(0, limit).map(toFileRecord);

      // Live replicas of exactly the files just read, then the versions they (and the files'
      // current versions) hold: three statements whatever the page size.
      const versions = new Map<string, FileVersion>();
      const replicas = new Map<string, Replica[]>();
      if (files.length > 0) {
        let rq = this.#db
          .selectFrom('replicas as r')
          .innerJoin('file_versions as v', (j) => j.onRef('v.file_id', '=', 'r.file_id').onRef('v.version', '=', 'r.version'))
          .selectAll('r')
          .where(
            'r.file_id',
            'in',
            files.map((f) => f.id),
          )
          .where('r.state', '<>', 'deleted')
          .where('v.state', '=', 'committed');
        if (visible !== undefined) rq = rq.where('r.location', 'in', visible);
        const replicaRows = await rq.orderBy('r.file_id').orderBy('r.location').orderBy('r.version', 'desc').execute();
        const pairs = new Map<string, [string, number]>();
        for (const file of files) if (file.currentVersion !== null) pairs.set(`${file.id}:${file.currentVersion}`, [file.id, file.currentVersion]);
        for (const row of replicaRows) {
          const replica = toReplica(row);
          const list = replicas.get(replica.fileId) ?? [];
          list.push(replica);
          replicas.set(replica.fileId, list);
          pairs.set(`${replica.fileId}:${replica.version}`, [replica.fileId, replica.version]);
        }
        if (pairs.size > 0) {
          const list = [...pairs.values()];
          // Two arrays unnested into pairs: one parameter each, joined against the primary key.
          const inPairs = sql<boolean>`(file_id, version) in (select * from unnest(${list.map((p) => p[0])}::bigint[], ${list.map((p) => p[1])}::integer[]))`;
          const versionRows = await this.#db.selectFrom('file_versions').selectAll().where(inPairs).execute();
          for (const row of versionRows) {
            const version = toFileVersion(row);
            versions.set(`${version.fileId}:${version.version}`, version);
          }
        }
      }
      const items = files.map((file) => {
        const own = replicas.get(file.id) ?? [];
        const held = new Set(own.map((r) => r.version));
        if (file.currentVersion !== null) held.add(file.currentVersion);
        return {
          file,
          current: file.currentVersion === null ? null : (versions.get(`${file.id}:${file.currentVersion}`) ?? null),
          replicas: own,
          versions: [...held].sort((a, b) => a - b).flatMap((v) => versions.get(`${file.id}:${v}`) ?? []),
        };
      });
      const last = files.at(-1);
      if (!(rows.length > limit && last)) return { items };
      return { items, nextCursor: idTag === undefined ? encodeCursor('inventory', [last.key, last.id]) : encodeIdCursor(idTag, last.id) };
    });
  }
}

export interface SqlStoreOptions {
  readonly kind: string;
  readonly features: MetadataFeatures;
  readonly db: Kysely<Database>;
  /** Runs after the database is closed (e.g. release a directory lock). */
  readonly afterClose?: () => Promise<void>;
}

/**
 * Each store's Kysely instance, for sql/testing.ts only: tests that tamper with the database
 * behind the port's back (to prove the audit chain notices) reach it there, and nothing else
 * can, since the port exposes no SQL.
 */
const rawDatabases = new WeakMap<MetadataStore, Kysely<Database>>();

export function rawDatabaseOf(store: MetadataStore): Kysely<Database> | undefined {
  return rawDatabases.get(store);
}

class SqlMetadataStore extends SqlOperations implements MetadataStore {
  readonly kind: string;
  readonly features: MetadataFeatures;
  readonly principals: PrincipalStore;
  readonly audit: AuditLog;
  readonly jobs: JobQueue;
  readonly consistency: ConsistencyReports;
  readonly outbox: Outbox;
  readonly eventLog: EventLog;
  readonly accessStats: AccessStats;
  readonly alerts: AlertStore;
  readonly sensorReadings: SensorReadings;
  readonly tiering: TieringStore;
  readonly #db: Kysely<Database>;
  readonly #auditLog: SqlAuditLog;
  readonly #afterClose: (() => Promise<void>) | undefined;
  /** Set while `transaction` runs its work, in the work's async context only. */
  readonly #inTransaction: AsyncLocalStorage<{ active: boolean }>;
  #closing: Promise<void> | undefined;

  constructor(options: SqlStoreOptions) {
    const inTransaction = new AsyncLocalStorage<{ active: boolean }>();
    // Calling the store itself (not `tx`) from inside a transaction would wait forever on the
    // embedded store's single connection, and on PostgreSQL could wait on the transaction's own
    // row locks: fail fast on both instead.
    const guard = (): void => {
      if (inTransaction.getStore()?.active === true) {
        throw new MovingDataError('internal', 'metadata store used directly inside its own transaction; use the `tx` argument', { retryable: false });
      }
    };
    super(options.db, guard);
    this.kind = options.kind;
    this.features = Object.freeze({ ...options.features });
    this.principals = new SqlPrincipalStore(options.db, guard);
    this.#auditLog = new SqlAuditLog(options.db, guard);
    this.audit = this.#auditLog;
    this.jobs = new SqlJobQueue(options.db, guard);
    this.consistency = new SqlConsistencyReports(options.db, guard);
    this.outbox = new SqlOutbox(options.db, guard);
    this.eventLog = new SqlEventLog(options.db, guard);
    this.accessStats = new SqlAccessStats(options.db, guard);
    this.alerts = new SqlAlertStore(options.db, guard);
    this.sensorReadings = new SqlSensorReadings(options.db, guard);
    this.tiering = new SqlTieringStore(options.db, guard);
    this.#db = options.db;
    this.#afterClose = options.afterClose;
    this.#inTransaction = inTransaction;
  }

  async transaction<T>(work: (tx: MetadataOperations) => Promise<T>): Promise<T> {
    if (this.#inTransaction.getStore()?.active === true) {
      throw new MovingDataError('internal', 'transactions do not nest; use the `tx` argument of the outer one', { retryable: false });
    }
    // The caller's own error must come back unchanged; only the database's are mapped.
    let thrownByWork: { error: unknown } | undefined;
    const marker = { active: true };
    try {
      return await this.#db.transaction().execute(async (trx) =>
        this.#inTransaction.run(marker, async () => {
          try {
            return await work(new SqlOperations(trx));
          } catch (error) {
            thrownByWork = { error };
            throw error;
          }
        }),
      );
    } catch (err) {
      if (thrownByWork !== undefined && err === thrownByWork.error) throw err;
      throw mapDatabaseError(err, 'transaction');
    } finally {
      // Tasks the work left running may outlive it; they are no longer inside the transaction.
      marker.active = false;
    }
  }

  commitWrite(input: WriteCommit): Promise<WriteCommitted> {
    return this.#auditLog.commitWrite(input);
  }

  async ping(): Promise<{ latencyMs: number }> {
    const started = performance.now();
    try {
      await sql`select 1`.execute(this.#db);
    } catch (err) {
      const mapped = mapDatabaseError(err, 'ping');
      throw mapped.code === 'internal' ? new MovingDataError('unavailable', mapped.message, { cause: err, retryable: true }) : mapped;
    }
    return { latencyMs: performance.now() - started };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#db.destroy();
      } finally {
        await this.#afterClose?.();
      }
    })();
    return this.#closing;
  }
}

export function createSqlStore(options: SqlStoreOptions): MetadataStore {
  const store = new SqlMetadataStore(options);
  rawDatabases.set(store, options.db);
  return store;
}

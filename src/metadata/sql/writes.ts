/**
 * The write path's two metadata steps, each as few round trips as PostgreSQL allows: a write
 * starts with one statement (`beginWriteStatement`) and ends inside a group commit (audit.ts)
 * with one statement of its own (`commitWriteStatement`) after the batch's shared ones. A small
 * object's PUT is otherwise dominated by round trips to the database (issue 13 §8: 16 statements
 * in two transactions before this; `npm run bench -- small` measures it).
 *
 * Data-modifying CTEs all see the statement's one snapshot and not each other's changes; only
 * their RETURNING rows flow between them. So:
 * - beginWrite inserts a new file with `last_version = 1` or bumps an existing one, never both
 *   on one row; a file created by a concurrent writer after the snapshot (its insert conflicts,
 *   its row is not visible to the bump) yields nothing, and the caller tries again.
 * - commitWrite runs only after the batch has locked the file rows (a statement of its own,
 *   audit.ts): under READ COMMITTED each statement takes a new snapshot, so the commit sees
 *   every commit of the file that finished before the lock was granted, and "the last commit
 *   wins" holds at each location.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { MovingDataError } from '../../errors.ts';
import type { CopyOutcome, NewWrite, WriteCommit, WriteCommitted, WriteStarted } from '../port.ts';
import {
  checkChecksums,
  checkEncryption,
  checkErrorMessage,
  checkKey,
  checkLabel,
  checkOptionalLabel,
  checkSha256,
  checkSize,
  checkUserMetadata,
  checkVersionNumber,
} from '../validation.ts';
import { fileIdOrNotFound, notFound } from './errors.ts';
import { fromJsonRow, jsonText, toFileRecord, toFileVersion, toReplica, type FileRow, type ReplicaRow, type VersionRow } from './rows.ts';
import type { Database } from './schema.ts';

type Executor = Kysely<Database> | Transaction<Database>;

/** A creator and a deleter of the same key can keep beginWrite from finding a live file; give up after this. */
const BEGIN_ATTEMPTS = 5;

export async function beginWriteStatement(db: Executor, input: NewWrite): Promise<WriteStarted> {
  const key = checkKey(input.key);
  const contentType = checkOptionalLabel(input.contentType, 'contentType') ?? null;
  const metadata = jsonText(checkUserMetadata(input.metadata));
  const writtenBy = checkOptionalLabel(input.writtenBy, 'writtenBy') ?? null;
  const encryption = jsonText(checkEncryption(input.encryption));
  if (input.copies.length === 0) throw new MovingDataError('invalid_argument', 'a write needs at least one copy', { retryable: false });
  const locations = input.copies.map((c) => checkLabel(c.location, 'location'));
  if (new Set(locations).size !== locations.length) throw new MovingDataError('invalid_argument', 'a write has one copy per location', { retryable: false });
  const copyEncryption = input.copies.map((c) => jsonText(checkEncryption(c.encryption)));
  // The longest version number a file can reach, so the name is checked before anything is written.
  checkKey(`${input.objectKey.before}${2 ** 31 - 1}${input.objectKey.after}`, 'objectKey');

  for (let attempt = 0; attempt < BEGIN_ATTEMPTS; attempt += 1) {
    const result = await sql<{ f: unknown; v: unknown; r: unknown }>`
      with ins as (
        insert into files (key, content_type, last_version) values (${key}, ${contentType}, 1)
        on conflict (key) where deleted_at is null do nothing
        returning *
      ), upd as (
        update files set last_version = last_version + 1, updated_at = now()
        where key = ${key} and deleted_at is null and not exists (select 1 from ins)
        returning *
      ), f as (
        select * from ins union all select * from upd
      ), v as (
        insert into file_versions (file_id, version, state, encryption, metadata, written_by, content_type)
        select f.id, f.last_version, 'pending', ${encryption}::jsonb, ${metadata}::jsonb, ${writtenBy}, ${contentType} from f
        returning *
      ), r as (
        insert into replicas (file_id, version, location, object_key, state, encryption)
        select v.file_id, v.version, c.location, ${input.objectKey.before} || v.version || ${input.objectKey.after}, 'writing', c.encryption::jsonb
        from v cross join unnest(${locations}::text[], ${copyEncryption}::text[]) as c(location, encryption)
        returning *
      )
      select (select to_jsonb(f.*) from f) as f, (select to_jsonb(v.*) from v) as v,
        coalesce((select jsonb_agg(to_jsonb(r.*)) from r), '[]'::jsonb) as r`.execute(db);
    const row = result.rows[0];
    if (row !== undefined && row.f !== null && row.v !== null) {
      return {
        file: toFileRecord(fromJsonRow<FileRow>(row.f)),
        version: toFileVersion(fromJsonRow<VersionRow>(row.v)),
        replicas: jsonRows<ReplicaRow>(row.r).map(toReplica),
      };
    }
  }
  throw new MovingDataError('conflict', `file ${JSON.stringify(key)} keeps being created and deleted; try again`, { retryable: true, details: { key } });
}

/** A WriteCommit checked once, before it joins a batch (a bad one must not fail the others). */
export interface CheckedCommit {
  readonly fileId: string;
  readonly version: number;
  readonly size: number;
  readonly sha256: string;
  readonly stored: ReadonlyArray<Extract<CopyOutcome, { stored: unknown }>>;
  readonly failed: ReadonlyArray<Extract<CopyOutcome, { error: string }>>;
}

export function checkCommit(input: WriteCommit): CheckedCommit {
  const locations = input.copies.map((c) => checkLabel(c.location, 'location'));
  if (new Set(locations).size !== locations.length) throw new MovingDataError('invalid_argument', 'a write commits one outcome per location', { retryable: false });
  const stored = input.copies.filter((c): c is Extract<CopyOutcome, { stored: unknown }> => 'stored' in c);
  for (const c of stored) {
    checkSize(c.stored.storedSize, 'storedSize');
    checkChecksums(c.stored.checksums);
    checkOptionalLabel(c.stored.tier, 'tier');
    checkEncryption(c.stored.encryption);
  }
  const failed = input.copies.filter((c): c is Extract<CopyOutcome, { error: string }> => 'error' in c);
  for (const c of failed) checkErrorMessage(c.error);
  const sha256 = checkSha256(input.sha256);
  if (sha256 === undefined) throw new MovingDataError('invalid_argument', 'a committed version needs its sha256', { retryable: false });
  return { fileId: fileIdOrNotFound(input.fileId), version: checkVersionNumber(input.version), size: checkSize(input.size), sha256, stored, failed };
}

/**
 * One write's commit, in the batch's transaction with its file row locked: the version from
 * pending to committed and current, the stored copies from writing to verified (superseding
 * the other verified or failed copies at their locations), the failed ones to failed. Not
 * applied (the version as it is) when the version is no longer pending; `not_found` without it.
 * `audit` is left empty for the batch to fill.
 */
export async function commitWriteStatement(trx: Transaction<Database>, commit: CheckedCommit): Promise<WriteCommitted> {
  const { fileId, version, size, sha256 } = commit;
  const result = await sql<{ f: unknown; v: unknown; cur: unknown; ok: unknown; bad: unknown; gone: unknown }>`
    with v as (
      update file_versions set state = 'committed', updated_at = now(), size = ${size}, sha256 = ${sha256}
      where file_id = ${fileId} and version = ${version} and state = 'pending'
      returning *
    ), f as (
      update files set current_version = ${version}, current_size = ${size}::bigint, updated_at = now()
      where id = ${fileId} and exists (select 1 from v)
      returning *
    ), ok as (
      update replicas r set state = 'verified', updated_at = now(), verified_at = now(), attempts = r.attempts + 1, last_error = null,
        stored_size = c.stored_size, checksums = c.checksums::jsonb, tier = coalesce(c.tier, r.tier), encryption = c.encryption::jsonb
      from unnest(${commit.stored.map((c) => c.location)}::text[], ${commit.stored.map((c) => c.stored.storedSize)}::bigint[], ${commit.stored.map((c) => jsonText(c.stored.checksums))}::text[],
        ${commit.stored.map((c) => c.stored.tier ?? null)}::text[], ${commit.stored.map((c) => jsonText(c.stored.encryption))}::text[]) as c(location, stored_size, checksums, tier, encryption)
      where r.file_id = ${fileId} and r.version = ${version} and r.location = c.location and r.state = 'writing' and exists (select 1 from v)
      returning r.*
    ), bad as (
      update replicas r set state = 'failed', updated_at = now(), attempts = r.attempts + 1, last_error = c.error
      from unnest(${commit.failed.map((c) => c.location)}::text[], ${commit.failed.map((c) => c.error)}::text[]) as c(location, error)
      where r.file_id = ${fileId} and r.version = ${version} and r.location = c.location and r.state = 'writing' and exists (select 1 from v)
      returning r.*
    ), gone as (
      update replicas r set state = 'deleted', updated_at = now()
      where r.file_id = ${fileId} and r.location in (select location from ok) and r.version <> ${version} and r.state in ('verified', 'failed')
      returning r.*
    )
    select (select to_jsonb(f.*) from f) as f, (select to_jsonb(v.*) from v) as v,
      (select to_jsonb(cur.*) from file_versions cur where cur.file_id = ${fileId} and cur.version = ${version}) as cur,
      coalesce((select jsonb_agg(to_jsonb(ok.*)) from ok), '[]'::jsonb) as ok,
      coalesce((select jsonb_agg(to_jsonb(bad.*)) from bad), '[]'::jsonb) as bad,
      coalesce((select jsonb_agg(to_jsonb(gone.*)) from gone), '[]'::jsonb) as gone`.execute(trx);
  const row = result.rows[0];
  if (row === undefined || (row.v === null && row.cur === null)) throw notFound(`no version ${version} of file ${fileId}`, { fileId, version });
  if (row.v === null || row.f === null) return { applied: false, version: toFileVersion(fromJsonRow<VersionRow>(row.cur)) };
  return {
    applied: true,
    file: toFileRecord(fromJsonRow<FileRow>(row.f)),
    version: toFileVersion(fromJsonRow<VersionRow>(row.v)),
    replicas: [...jsonRows<ReplicaRow>(row.ok), ...jsonRows<ReplicaRow>(row.bad)].map(toReplica),
    superseded: jsonRows<ReplicaRow>(row.gone).map(toReplica),
    audit: [],
  };
}

/** A `jsonb_agg` of rows (text if the driver keeps jsonb as text). */
function jsonRows<T>(value: unknown): T[] {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (!Array.isArray(parsed)) throw new MovingDataError('internal', `metadata store returned an unexpected row list: ${String(value)}`, { retryable: false });
  return parsed.map((item) => fromJsonRow<T>(item));
}

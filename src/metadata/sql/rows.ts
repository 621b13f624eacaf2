/**
 * The one place where database values become the port's JS values, so both adapters return
 * identical records whatever their driver does. What the drivers hand over (checked by the
 * conformance suite's round-trip test):
 *
 * | type           | pg (node-postgres)            | PGlite                                  |
 * |----------------|-------------------------------|-----------------------------------------|
 * | bigint (int8)  | string (exact)                | number, silently rounded above 2^53 —   |
 * |                |                               | so pglite-store.ts makes it text too    |
 * | timestamptz(3) | Date                          | Date                                    |
 * | jsonb          | parsed value                  | parsed value                            |
 *
 * Here: int8 text/number/bigint -> number, refusing anything beyond 2^53 rather than
 * rounding; timestamps -> a fresh Date (text accepted in case a driver is configured to keep
 * it); jsonb -> parsed objects (text parsed). Ids are bigint in SQL and strings in the port.
 */
import { MovingDataError } from '../../errors.ts';
import type {
  AuditEntry,
  AuditOutcome,
  EncryptionDescriptor,
  FileRecord,
  FileVersion,
  Job,
  JobState,
  JsonObject,
  JsonValue,
  Principal,
  Replica,
  ReplicaState,
  VersionState,
} from '../port.ts';

function corrupt(what: string, value: unknown): MovingDataError {
  return new MovingDataError('internal', `metadata store returned an unexpected ${what}: ${String(value)}`, { retryable: false });
}

export function toSafeInteger(value: unknown, what = 'integer'): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    throw corrupt(what, value);
  }
  if (typeof value === 'bigint') {
    if (value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(value);
    throw corrupt(what, value);
  }
  if (typeof value === 'string' && /^-?\d{1,16}$/.test(value)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  throw corrupt(what, value);
}

export function toNullableSafeInteger(value: unknown, what?: string): number | null {
  return value === null || value === undefined ? null : toSafeInteger(value, what);
}

/** Ids stay strings in the port: exact at any size, and opaque like a MongoDB ObjectId. */
export function toId(value: unknown): string {
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  throw corrupt('id', value);
}

/** An id given by a caller, as the bigint text the database expects, or undefined if it cannot exist. */
export function parseId(id: string): string | undefined {
  return typeof id === 'string' && /^[1-9]\d{0,18}$/.test(id) && BigInt(id) <= 9223372036854775807n ? id : undefined;
}

export function toDate(value: unknown, what = 'timestamp'): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return new Date(value.getTime());
  if (typeof value === 'string') {
    // PostgreSQL text output: `2026-01-02 03:04:05.678+00` (ISO DateStyle); make it ISO 8601.
    const iso = value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
    const date = new Date(iso);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw corrupt(what, value);
}

export function toNullableDate(value: unknown, what?: string): Date | null {
  return value === null || value === undefined ? null : toDate(value, what);
}

export function toJsonObject(value: unknown, what: string): JsonObject {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as JsonObject;
  throw corrupt(what, value);
}

function toEncryption(value: unknown): EncryptionDescriptor {
  const object = toJsonObject(value, 'encryption descriptor');
  const { format, keyIds, params } = object;
  if ((format === 'age' || format === 'fernet' || format === 'none') && Array.isArray(keyIds)) {
    const ids = keyIds.map((k) => (typeof k === 'string' ? k : String(k)));
    return params !== undefined && typeof params === 'object' && params !== null && !Array.isArray(params)
      ? { format, keyIds: ids, params: params as JsonObject }
      : { format, keyIds: ids };
  }
  throw corrupt('encryption descriptor', JSON.stringify(object));
}

function toStringRecord(value: unknown, what: string): Record<string, string> {
  const object = toJsonObject(value, what);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(object)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** What we write: JSON text, cast by the server to jsonb from the column type. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value);
}

export interface FileRow {
  id: unknown;
  key: string;
  content_type: string | null;
  current_version: number | null;
  created_at: unknown;
  updated_at: unknown;
  deleted_at: unknown;
}

export function toFileRecord(row: FileRow): FileRecord {
  return {
    id: toId(row.id),
    key: row.key,
    contentType: row.content_type,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    currentVersion: row.current_version,
    deletedAt: toNullableDate(row.deleted_at),
  };
}

export interface VersionRow {
  file_id: unknown;
  version: number;
  state: string;
  size: unknown;
  sha256: string | null;
  encryption: unknown;
  metadata: unknown;
  written_by: string | null;
  content_type?: string | null;
  created_at: unknown;
  updated_at: unknown;
}

export function toFileVersion(row: VersionRow): FileVersion {
  return {
    fileId: toId(row.file_id),
    version: row.version,
    state: row.state as VersionState,
    size: toNullableSafeInteger(row.size, 'size'),
    sha256: row.sha256,
    encryption: toEncryption(row.encryption),
    metadata: toStringRecord(row.metadata, 'metadata'),
    writtenBy: row.written_by,
    contentType: row.content_type ?? null,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

export interface ReplicaRow {
  id: unknown;
  file_id: unknown;
  version: number;
  location: string;
  object_key: string;
  state: string;
  stored_size: unknown;
  checksums: unknown;
  tier: string | null;
  encryption: unknown;
  attempts: number;
  last_error: string | null;
  verified_at: unknown;
  created_at: unknown;
  updated_at: unknown;
}

export function toReplica(row: ReplicaRow): Replica {
  return {
    id: toId(row.id),
    fileId: toId(row.file_id),
    version: row.version,
    location: row.location,
    objectKey: row.object_key,
    state: row.state as ReplicaState,
    storedSize: toNullableSafeInteger(row.stored_size, 'stored size'),
    checksums: toStringRecord(row.checksums, 'checksums'),
    tier: row.tier,
    encryption: row.encryption === null || row.encryption === undefined ? null : toEncryption(row.encryption),
    attempts: row.attempts,
    lastError: row.last_error,
    verifiedAt: toNullableDate(row.verified_at),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

export interface PrincipalRow {
  id: unknown;
  name: string;
  roles: unknown;
  token_hash: string;
  created_at: unknown;
  revoked_at: unknown;
  last_used_at: unknown;
}

export function toPrincipal(row: PrincipalRow): Principal {
  const roles: unknown = typeof row.roles === 'string' ? JSON.parse(row.roles) : row.roles;
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw corrupt('role list', JSON.stringify(roles));
  return {
    id: toId(row.id),
    name: row.name,
    roles,
    tokenHash: row.token_hash,
    createdAt: toDate(row.created_at),
    revokedAt: toNullableDate(row.revoked_at),
    lastUsedAt: toNullableDate(row.last_used_at),
  };
}

export interface AuditRow {
  seq: unknown;
  at: unknown;
  principal: string;
  action: string;
  location: string | null;
  object_key: string | null;
  key_id: string | null;
  sha256: string | null;
  outcome: string;
  details: unknown;
  prev_hash: string;
  hash: string;
}

/**
 * Values are passed through as stored, never repaired: the verifier must see exactly what the
 * database holds, tampered or not.
 */
export function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    seq: toSafeInteger(row.seq, 'audit seq'),
    at: toDate(row.at, 'audit time'),
    principal: row.principal,
    action: row.action,
    location: row.location,
    objectKey: row.object_key,
    keyId: row.key_id,
    sha256: row.sha256,
    outcome: row.outcome as AuditOutcome,
    details: toJsonObject(row.details, 'audit details'),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export interface JobRow {
  id: unknown;
  kind: string;
  payload: unknown;
  dedupe_key: string | null;
  state: string;
  attempts: number;
  max_attempts: number;
  run_after: unknown;
  locked_by: string | null;
  lease_until: unknown;
  last_error: string | null;
  progress: unknown;
  result: unknown;
  created_at: unknown;
  updated_at: unknown;
  finished_at: unknown;
}

export function toJob(row: JobRow): Job {
  return {
    id: toId(row.id),
    kind: row.kind,
    payload: toJsonObject(row.payload, 'job payload'),
    dedupeKey: row.dedupe_key,
    state: row.state as JobState,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAfter: toDate(row.run_after),
    lockedBy: row.locked_by,
    leaseUntil: toNullableDate(row.lease_until),
    lastError: row.last_error,
    progress: toJsonObject(row.progress, 'job progress'),
    // Any JSON value, so a string here is a JSON string (both drivers parse jsonb; see above),
    // never text to parse. jsonb `null` and SQL NULL both mean "no result".
    result: row.result === undefined || row.result === null ? null : (row.result as JsonValue),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    finishedAt: toNullableDate(row.finished_at),
  };
}

/**
 * A row selected as `to_jsonb(t.*)` (one column per joined table, so a join returns each
 * table's row whole without aliasing every column): parsed if the driver hands back text.
 */
export function fromJsonRow<T>(value: unknown): T {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt('joined row', value);
  return parsed as T;
}

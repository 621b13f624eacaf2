/**
 * Input checks every metadata adapter applies before touching its database, so that bad input
 * is the same clear `invalid_argument` / `invalid_key` everywhere instead of whatever each
 * database's constraint error happens to say. Database-agnostic on purpose (a future MongoDB
 * adapter uses it too).
 */
import { MovingDataError } from '../errors.ts';
import {
  AUDIT_OUTCOMES,
  JOB_STATES,
  REPLICA_STATES,
  VERSION_STATES,
  type AuditOutcome,
  type EncryptionDescriptor,
  type JobState,
  type JsonObject,
  type JsonValue,
  type ProviderChecksums,
  type ReplicaState,
  type VersionState,
} from './port.ts';

const MAX_KEY_BYTES = 1024;
const MAX_LABEL_LENGTH = 256;
const MAX_ERROR_LENGTH = 4000;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const CHECKSUM_NAMES: ReadonlySet<string> = new Set(['md5', 'crc32c', 'crc32', 'sha256', 'etag']);
const ENCRYPTION_FORMATS: ReadonlySet<string> = new Set(['age', 'fernet', 'none']);

function invalid(message: string, details: Record<string, unknown> = {}): MovingDataError {
  return new MovingDataError('invalid_argument', message, { retryable: false, details });
}

/** A file or object key: 1..1024 UTF-8 bytes, no NUL (PostgreSQL text cannot hold one). */
export function checkKey(key: unknown, what = 'key'): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new MovingDataError('invalid_key', `${what} must be a non-empty string`, { retryable: false });
  }
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new MovingDataError('invalid_key', `${what} is longer than ${MAX_KEY_BYTES} bytes`, { retryable: false });
  }
  if (key.includes('\0')) {
    throw new MovingDataError('invalid_key', `${what} contains a NUL character`, { retryable: false });
  }
  if (!key.isWellFormed()) {
    throw new MovingDataError('invalid_key', `${what} is not valid Unicode (lone surrogate)`, { retryable: false });
  }
  return key;
}

/** A prefix filter: like a key but may be empty. */
export function checkPrefix(prefix: string | undefined): string | undefined {
  if (prefix === undefined || prefix === '') return undefined;
  return checkKey(prefix, 'prefix');
}

/** Short labels: location names, principals, tiers, content types. */
export function checkLabel(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LABEL_LENGTH || value.includes('\0') || !value.isWellFormed()) {
    throw invalid(`${what} must be a non-empty string of at most ${MAX_LABEL_LENGTH} characters`, { [what]: value });
  }
  return value;
}

export function checkOptionalLabel(value: string | undefined, what: string): string | undefined {
  return value === undefined ? undefined : checkLabel(value, what);
}

export function checkVersionNumber(version: unknown): number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1 || version > 2 ** 31 - 1) {
    throw invalid('version must be a positive integer', { version });
  }
  return version;
}

export function checkSize(size: unknown, what = 'size'): number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${what} must be a non-negative integer below 2^53`, { [what]: size });
  }
  return size;
}

export function checkOptionalSize(size: number | undefined, what = 'size'): number | undefined {
  return size === undefined ? undefined : checkSize(size, what);
}

/** Lowercase hex; upper-case input is accepted and normalised. */
export function checkSha256(sha256: string | undefined): string | undefined {
  if (sha256 === undefined) return undefined;
  const normalised = typeof sha256 === 'string' ? sha256.toLowerCase() : sha256;
  if (typeof normalised !== 'string' || !SHA256_HEX.test(normalised)) {
    throw invalid('sha256 must be 64 hex digits', { sha256 });
  }
  return normalised;
}

export function checkVersionState(state: unknown): VersionState {
  if (!(VERSION_STATES as readonly unknown[]).includes(state)) {
    throw invalid(`version state must be one of ${VERSION_STATES.join(', ')}`, { state });
  }
  return state as VersionState;
}

export function checkReplicaState(state: unknown): ReplicaState {
  if (!(REPLICA_STATES as readonly unknown[]).includes(state)) {
    throw invalid(`replica state must be one of ${REPLICA_STATES.join(', ')}`, { state });
  }
  return state as ReplicaState;
}

/** `from` of a transition as a non-empty list. */
export function checkStates<S extends string>(from: S | readonly S[], check: (s: unknown) => S): S[] {
  const list = typeof from === 'string' ? [from] : [...from];
  if (list.length === 0) throw invalid('the expected states (from) must not be empty');
  return list.map(check);
}

export function checkLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max) {
    throw invalid(`limit must be an integer between 1 and ${max}`, { limit });
  }
  return limit;
}

export function checkErrorMessage(message: string | null | undefined): string | null | undefined {
  if (message === undefined || message === null) return message;
  if (typeof message !== 'string') throw invalid('lastError must be a string or null');
  // Errors come from SDKs and can be long or contain NUL; keep what helps a human.
  return message.replaceAll('\0', '').slice(0, MAX_ERROR_LENGTH);
}

export function checkEncryption(value: EncryptionDescriptor): EncryptionDescriptor {
  if (typeof value !== 'object' || value === null || !ENCRYPTION_FORMATS.has(value.format)) {
    throw invalid('encryption.format must be age, fernet or none', { format: (value as { format?: unknown } | null)?.format });
  }
  if (!Array.isArray(value.keyIds) || !value.keyIds.every((k) => typeof k === 'string')) {
    throw invalid('encryption.keyIds must be an array of strings');
  }
  if (value.params !== undefined) checkJson(value.params, 'encryption.params');
  return value.params === undefined
    ? { format: value.format, keyIds: [...value.keyIds] }
    : { format: value.format, keyIds: [...value.keyIds], params: value.params };
}

export function checkOptionalEncryption(value: EncryptionDescriptor | undefined): EncryptionDescriptor | undefined {
  return value === undefined ? undefined : checkEncryption(value);
}

export function checkChecksums(value: ProviderChecksums | undefined): ProviderChecksums | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('checksums must be an object');
  const out: Record<string, string> = {};
  for (const [name, digest] of Object.entries(value)) {
    if (digest === undefined) continue;
    if (!CHECKSUM_NAMES.has(name) || typeof digest !== 'string' || digest.length === 0 || digest.length > 256) {
      throw invalid('checksums hold md5, crc32c, crc32, sha256 or etag as non-empty strings', { name });
    }
    out[name] = digest;
  }
  return out;
}

export function checkUserMetadata(value: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('metadata must be an object of strings');
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'string' || name.includes('\0') || v.includes('\0')) {
      throw invalid('metadata values must be strings without NUL', { name });
    }
    out[name] = v;
  }
  return out;
}

/** Only plain JSON survives a round trip through jsonb (no undefined, NaN, Date, ...). */
function checkJson(value: unknown, what: string): asserts value is JsonValue {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v === 'string' || typeof v === 'boolean') {
      if (typeof v === 'string' && v.includes('\0')) throw invalid(`${what} contains a NUL character`);
      if (typeof v === 'string' && !v.isWellFormed()) throw invalid(`${what} is not valid Unicode (lone surrogate)`);
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw invalid(`${what} contains a non-finite number`);
      continue;
    }
    if (Array.isArray(v)) {
      stack.push(...(v as unknown[]));
      continue;
    }
    if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, inner] of Object.entries(v)) {
        if (k.includes('\0')) throw invalid(`${what} contains a NUL character`);
        if (!k.isWellFormed()) throw invalid(`${what} is not valid Unicode (lone surrogate)`);
        stack.push(inner);
      }
      continue;
    }
    throw invalid(`${what} must be plain JSON`);
  }
}

// ---- principals and audit -------------------------------------------------------------------

const PRINCIPAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const MAX_ROLES = 64;
const AUDIT_ACTION = /^[a-z][a-z0-9_.]{0,63}$/;
const MAX_AUDIT_DETAILS_BYTES = 16 * 1024;

/** Principal names appear in URLs (DELETE /tokens/{name}) and audit entries: keep them plain. */
export function checkPrincipalName(name: unknown): string {
  if (typeof name !== 'string' || !PRINCIPAL_NAME.test(name)) {
    throw invalid('principal name must be 1-64 letters, digits, dots, underscores, @ or hyphens, starting with a letter or digit', { name });
  }
  return name;
}

/** Sorted and deduplicated, so equal role sets compare equal. */
export function checkRoles(roles: unknown): string[] {
  if (!Array.isArray(roles) || roles.length > MAX_ROLES) throw invalid(`roles must be a list of at most ${MAX_ROLES} role names`);
  for (const role of roles as unknown[]) {
    if (typeof role !== 'string' || !ROLE_NAME.test(role)) {
      throw invalid('a role name is 1-64 letters, digits, dots, underscores, colons or hyphens, starting with a letter or digit', { role });
    }
  }
  return [...new Set(roles as string[])].sort();
}

export function checkTokenHash(hash: unknown): string {
  const normalised = typeof hash === 'string' ? hash.toLowerCase() : hash;
  if (typeof normalised !== 'string' || !SHA256_HEX.test(normalised)) throw invalid('tokenHash must be 64 hex digits (SHA-256)');
  return normalised;
}

export function checkAuditAction(action: unknown): string {
  if (typeof action !== 'string' || !AUDIT_ACTION.test(action)) {
    throw invalid('audit action must be a lowercase identifier (a-z, 0-9, _ and .), at most 64 characters', { action });
  }
  return action;
}

export function checkAuditOutcome(outcome: unknown): AuditOutcome {
  if (!(AUDIT_OUTCOMES as readonly unknown[]).includes(outcome)) throw invalid(`audit outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`, { outcome });
  return outcome as AuditOutcome;
}

/** null for absent; otherwise a label (location, key id). */
export function checkNullableLabel(value: string | null | undefined, what: string): string | null {
  return value === undefined || value === null ? null : checkLabel(value, what);
}

export function checkNullableKey(value: string | null | undefined, what: string): string | null {
  return value === undefined || value === null ? null : checkKey(value, what);
}

export function checkNullableSha256(value: string | null | undefined): string | null {
  return value === undefined || value === null ? null : (checkSha256(value) ?? null);
}

/** A plain JSON object of bounded size: audit details are evidence, not payload. */
export function checkAuditDetails(details: JsonObject | undefined): JsonObject {
  if (details === undefined) return {};
  if (typeof details !== 'object' || details === null || Array.isArray(details)) throw invalid('audit details must be a JSON object');
  checkJson(details, 'audit details');
  if (Buffer.byteLength(JSON.stringify(details), 'utf8') > MAX_AUDIT_DETAILS_BYTES) {
    throw invalid(`audit details must serialise to at most ${MAX_AUDIT_DETAILS_BYTES} bytes`);
  }
  return details;
}

export function checkAfterSeq(afterSeq: number | undefined): number {
  if (afterSeq === undefined) return 0;
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw invalid('afterSeq must be a non-negative integer', { afterSeq });
  return afterSeq;
}

// ---- jobs -----------------------------------------------------------------------------------

const JOB_KIND = /^[a-z][a-z0-9_.-]{0,63}$/;
const MAX_DEDUPE_KEY_LENGTH = 512;
/** Jobs carry references (ids, keys, location names), never object data. */
const MAX_JOB_JSON_BYTES = 64 * 1024;
const DAY_MS = 86_400_000;

export function checkJobKind(kind: unknown): string {
  if (typeof kind !== 'string' || !JOB_KIND.test(kind)) {
    throw invalid('job kind must be a lowercase identifier (a-z, 0-9, _ . -), at most 64 characters', { kind });
  }
  return kind;
}

export function checkJobState(state: unknown): JobState {
  if (!(JOB_STATES as readonly unknown[]).includes(state)) throw invalid(`job state must be one of ${JOB_STATES.join(', ')}`, { state });
  return state as JobState;
}

export function checkDedupeKey(key: string | undefined): string | null {
  if (key === undefined) return null;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_DEDUPE_KEY_LENGTH || key.includes('\0') || !key.isWellFormed()) {
    throw invalid(`dedupeKey must be a non-empty string of at most ${MAX_DEDUPE_KEY_LENGTH} characters`);
  }
  return key;
}

export function checkMaxAttempts(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > 1000) throw invalid('maxAttempts must be an integer between 1 and 1000', { maxAttempts: value });
  return value;
}

/** A duration in whole milliseconds between `min` and one day. */
export function checkDurationMs(value: unknown, what: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > DAY_MS) {
    throw invalid(`${what} must be an integer number of milliseconds between ${min} and ${DAY_MS}`, { [what]: value });
  }
  return value;
}

/** Like `checkDurationMs`, without the one-day bound (retention periods). */
export function checkAgeMs(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${what} must be a non-negative integer number of milliseconds`, { [what]: value });
  return value;
}

export function checkDate(value: unknown, what: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw invalid(`${what} must be a valid Date`);
  return value;
}

/** A plain JSON object of at most 64 KiB serialised: a job's payload or progress. */
export function checkJobObject(value: JsonObject | undefined, what: string): JsonObject {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${what} must be a JSON object`);
  return checkJobJson(value, what) as JsonObject;
}

/** Any plain JSON value of at most 64 KiB serialised: a job's result. */
export function checkJobJson(value: JsonValue, what: string): JsonValue {
  checkJson(value, what);
  if (Buffer.byteLength(JSON.stringify(value), 'utf8') > MAX_JOB_JSON_BYTES) throw invalid(`${what} must serialise to at most ${MAX_JOB_JSON_BYTES} bytes`);
  return value;
}

/**
 * The audit trail's hash chain, defined once for every adapter (and for anyone who wants to
 * check an export without MovingData):
 *
 *   record(e)  = { seq, at, principal, action, location, object_key, key_id, sha256, outcome,
 *                  details }                      (at: ISO 8601 UTC with milliseconds)
 *   hash(e)    = lowercase hex SHA-256( prev_hash ‖ JCS(record(e)) )   (both UTF-8)
 *   prev_hash  = hash of the entry before, or GENESIS_HASH for seq 1
 *
 * JCS is the JSON Canonicalization Scheme (RFC 8785): keys sorted by UTF-16 code units, no
 * whitespace, numbers and strings as ECMAScript's JSON.stringify writes them. `record(e)` uses
 * the same names as a line of the export (`movingdata audit export`, GET /audit/export), so a
 * line minus `prev_hash` and `hash`, canonicalised, is exactly what was hashed: a ten-line
 * script in any language can re-verify an export.
 *
 * What the chain cannot see on its own is explained on `AuditLog` in port.ts (truncation of the
 * tail, a rewrite reaching the end): anchor `head` outside the database for that.
 */
import { createHash } from 'node:crypto';
import type { AuditEntry, AuditHead, AuditProblem, AuditVerification, JsonObject, JsonValue } from './port.ts';

/** prev_hash of the first entry: a fixed value, so a log cannot start anywhere but at seq 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** What a hash covers: every field of an entry except its own hash and the previous one. */
export type AuditFields = Omit<AuditEntry, 'prevHash' | 'hash'>;

/** One line of an export: the hashed record plus the two hashes. */
export interface AuditRecord {
  readonly seq: number;
  readonly at: string;
  readonly principal: string;
  readonly action: string;
  readonly location: string | null;
  readonly object_key: string | null;
  readonly key_id: string | null;
  readonly sha256: string | null;
  readonly outcome: string;
  readonly details: JsonObject;
  readonly prev_hash: string;
  readonly hash: string;
}

/** RFC 8785 canonical JSON of plain JSON data. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(canonicalJson).join(',')}]`;
  const object = value as JsonObject;
  // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
  const keys = Object.keys(object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(object[k] as JsonValue)}`).join(',')}}`;
}

type HashedRecord = Omit<AuditRecord, 'prev_hash' | 'hash'>;

function hashedRecord(fields: AuditFields): HashedRecord {
  return {
    seq: fields.seq,
    at: fields.at.toISOString(),
    principal: fields.principal,
    action: fields.action,
    location: fields.location,
    object_key: fields.objectKey,
    key_id: fields.keyId,
    sha256: fields.sha256,
    outcome: fields.outcome,
    details: fields.details,
  };
}

export function auditEntryHash(prevHash: string, fields: AuditFields): string {
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalJson(hashedRecord(fields)), 'utf8').digest('hex');
}

/** An entry as an export line (snake_case, `at` as ISO text). */
export function auditRecord(entry: AuditEntry): AuditRecord {
  return { ...hashedRecord(entry), prev_hash: entry.prevHash, hash: entry.hash };
}

/**
 * Recompute every link of a log read in seq order and stop at the first problem.
 *
 * `locate(hash)` answers "which seq holds the entry whose stored hash is this?" and is asked
 * at most once, at the first break, to tell a reordering (the entry this one was chained
 * after now sits later in the log) from a deletion or an insertion. Memory stays constant:
 * only the previous entry is kept.
 *
 * How breaks read (seq k, previous entry p):
 * - k skips numbers                               -> deleted_or_inserted at the first missing seq
 * - k links to p but its hash does not match     -> edited at k
 * - only k's prev_hash was changed               -> edited at k
 * - k was chained after an entry now later      -> reordered at k
 * - k is intact but p is not what k chained to  -> edited at p (p rewritten with a new hash, or
 *                                                   an entry between them removed)
 * - k was chained after an entry further back   -> deleted_or_inserted after that entry
 * - k is neither intact nor linked               -> deleted_or_inserted at k (entries removed or
 *                                                   added before it, the rest renumbered)
 */
export async function verifyAuditChain(entries: AsyncIterable<AuditEntry>, locate: (hash: string) => Promise<number | undefined>): Promise<AuditVerification> {
  let previous: AuditEntry | undefined;
  let intact = 0;
  const head = (): AuditHead | null => (previous === undefined ? null : { seq: previous.seq, hash: previous.hash });
  const broken = (problem: AuditProblem): AuditVerification => ({ ok: false, entries: intact, head: head(), problem });

  for await (const entry of entries) {
    const expectedSeq = previous === undefined ? 1 : previous.seq + 1;
    const expectedPrev = previous === undefined ? GENESIS_HASH : previous.hash;
    if (entry.seq > expectedSeq) {
      const missing = entry.seq - 1 === expectedSeq ? `entry ${expectedSeq} is missing` : `entries ${expectedSeq} to ${entry.seq - 1} are missing`;
      return broken({ seq: expectedSeq, kind: 'deleted_or_inserted', message: `${missing}: the log jumps from ${previous === undefined ? 'its start' : `entry ${previous.seq}`} to entry ${entry.seq}` });
    }
    if (entry.seq < expectedSeq) {
      return broken({ seq: entry.seq, kind: 'reordered', message: `entry ${entry.seq} appears again after entry ${expectedSeq - 1}` });
    }
    const selfIntact = auditEntryHash(entry.prevHash, entry) === entry.hash;
    const linked = entry.prevHash === expectedPrev;
    if (selfIntact && linked) {
      previous = entry;
      intact += 1;
      continue;
    }
    if (linked) {
      return broken({ seq: entry.seq, kind: 'edited', message: `entry ${entry.seq} was changed after it was written: its content no longer matches its hash` });
    }
    if (!selfIntact && auditEntryHash(expectedPrev, entry) === entry.hash) {
      return broken({ seq: entry.seq, kind: 'edited', message: `entry ${entry.seq} was changed after it was written: its prev_hash was altered` });
    }
    const chainedAfter = await locate(entry.prevHash);
    if (chainedAfter !== undefined && chainedAfter > entry.seq) {
      return broken({ seq: entry.seq, kind: 'reordered', message: `entry ${entry.seq} is out of order: the entry it was chained after is now at seq ${chainedAfter}` });
    }
    if (chainedAfter !== undefined && chainedAfter < entry.seq - 1) {
      const first = chainedAfter + 1;
      return broken({
        seq: first,
        kind: 'deleted_or_inserted',
        message: `entry ${entry.seq} was chained right after entry ${chainedAfter}: ${first === entry.seq - 1 ? `entry ${first} was` : `entries ${first} to ${entry.seq - 1} were`} inserted or replaced`,
      });
    }
    if (selfIntact && previous !== undefined) {
      return broken({
        seq: previous.seq,
        kind: 'edited',
        message: `entry ${previous.seq} is not the entry that entry ${entry.seq} was chained after: it was rewritten (with a recomputed hash), or an entry between them was removed`,
      });
    }
    return broken({
      seq: entry.seq,
      kind: 'deleted_or_inserted',
      message:
        previous === undefined
          ? `entry ${entry.seq} does not start from the genesis hash: earlier entries were removed and the rest renumbered`
          : `entry ${entry.seq} does not follow entry ${previous.seq} and was itself altered: entries were removed or added before it and the rest renumbered`,
    });
  }
  return { ok: true, entries: intact, head: head() };
}

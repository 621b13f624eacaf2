/**
 * The audit trail as callers use it: one helper per kind of event (write, read, delete, move,
 * key use, denial, policy decision, token changes), over the metadata store's hash-chained log.
 *
 * Failure policy, decided for compliance: an operation that cannot be recorded does not
 * happen. `record` and every helper throw when the append fails, as `unavailable` (retryable,
 * HTTP 503) with a message that says the operation was refused because the audit trail could
 * not record it, never as a silent log line. Callers therefore record *before* the effect
 * becomes visible where they can:
 * - a read: before the first byte of plaintext leaves the process;
 * - a write: in the very transaction that makes the version current, once its bytes are
 *   stored (`writeEntry` builds the entry, MetadataStore.commitWrite commits both or neither);
 * - a denial: before the 403 goes out (if even that cannot be recorded, the caller gets the
 *   503, and still no access).
 * Input errors (an object key the log refuses) keep their own code: they are the caller's bug,
 * not an outage.
 *
 * Allowed accesses are recorded by the operation's own entry (outcome `allowed`), not by a
 * separate policy entry: one entry per access keeps the log honest and half the size.
 */
import { Readable } from 'node:stream';
import { accessEventOf, accessRecord, readCompletedEvent, type ReadCompletion } from '../events/access-events.ts';
import { MovingDataError, isMovingDataError } from '../errors.ts';
import {
  auditRecord,
  type AuditAction,
  type AuditEntry,
  type AuditLog,
  type AuditOutcome,
  type AuditRecord,
  type AuditVerification,
  type JsonObject,
  type NewAuditEntry,
} from '../metadata/index.ts';

/** An access to one object at one location. */
export interface ObjectEvent {
  readonly principal: string;
  readonly location: string;
  readonly objectKey: string;
  readonly keyId?: string | null;
  /** SHA-256 of the plaintext, when known. */
  readonly sha256?: string | null;
  /** Default `allowed`; `error` for an attempt that failed after it was authorised. */
  readonly outcome?: AuditOutcome;
  readonly details?: JsonObject;
}

export interface MoveEvent extends ObjectEvent {
  /** Destination location (`location` is the source). */
  readonly to: string;
}

export interface KeyUseEvent {
  readonly principal: string;
  readonly location: string;
  readonly keyId: string;
  /** `wrap`, `unwrap`, `rotate`, ... */
  readonly purpose: string;
  readonly objectKey?: string | null;
  readonly outcome?: AuditOutcome;
  readonly details?: JsonObject;
}

export interface DenialEvent {
  readonly principal: string;
  /** What the principal tried to do (`read`, `write`, `token_create`, ...). */
  readonly attempted: AuditAction;
  /** Stable reason from the access policy (`role_not_allowed`, `revoked`, ...). */
  readonly reason: string;
  readonly location?: string | null;
  readonly objectKey?: string | null;
  readonly details?: JsonObject;
}

export interface PolicyEvent {
  readonly principal: string;
  /** What was decided, e.g. `tier:cold` or `replicate:gcp`. */
  readonly decision: string;
  readonly location?: string | null;
  readonly objectKey?: string | null;
  readonly outcome?: AuditOutcome;
  readonly details?: JsonObject;
}

export interface AuditTrailOptions {
  /**
   * Where access events go: each entry's event (src/events/access-events.ts) is appended to
   * the outbox in the entry's own transaction, and `readCompleted` appends the end of a read
   * (AuditLog.appendEvents).
   */
  readonly events?: { readonly topic: string };
}

export class AuditTrail {
  readonly #log: AuditLog;
  readonly #events: AuditTrailOptions['events'];

  constructor(log: AuditLog, options: AuditTrailOptions = {}) {
    this.#log = log;
    this.#events = options.events;
  }

  /** Append one entry (with its access event); see the failure policy above. */
  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    try {
      return await this.#log.append(this.#withEvent(entry));
    } catch (err) {
      throw refused(entry.action, err);
    }
  }

  /** The entry with its access event, as the log takes it. */
  #withEvent(entry: NewAuditEntry): NewAuditEntry {
    const events = this.#events;
    return events === undefined ? entry : { ...entry, events: [...(entry.events ?? []), accessRecord(events.topic, accessEventOf(entry))] };
  }

  /**
   * A write's entry (with its access event) for a commit that records it in its own transaction
   * (MetadataStore.commitWrite): the write and its record commit together or not at all.
   */
  writeEntry(event: ObjectEvent): NewAuditEntry {
    return this.#withEvent(objectEntry('write', event));
  }

  read(event: ObjectEvent): Promise<AuditEntry> {
    return this.record(objectEntry('read', event));
  }

  delete(event: ObjectEvent): Promise<AuditEntry> {
    return this.record(objectEntry('delete', event));
  }

  move(event: MoveEvent): Promise<AuditEntry> {
    return this.record(objectEntry('move', { ...event, details: { ...event.details, from: event.location, to: event.to } }));
  }

  keyUse(event: KeyUseEvent): Promise<AuditEntry> {
    return this.record({
      principal: event.principal,
      action: 'key_use',
      outcome: event.outcome ?? 'allowed',
      location: event.location,
      objectKey: event.objectKey ?? null,
      keyId: event.keyId,
      details: { ...event.details, purpose: event.purpose },
    });
  }

  denied(event: DenialEvent): Promise<AuditEntry> {
    return this.record({
      principal: event.principal,
      action: 'denied',
      outcome: 'denied',
      location: event.location ?? null,
      objectKey: event.objectKey ?? null,
      details: { ...event.details, attempted: event.attempted, reason: event.reason },
    });
  }

  policy(event: PolicyEvent): Promise<AuditEntry> {
    return this.record({
      principal: event.principal,
      action: 'policy',
      outcome: event.outcome ?? 'allowed',
      location: event.location ?? null,
      objectKey: event.objectKey ?? null,
      details: { ...event.details, decision: event.decision },
    });
  }

  tokenCreated(event: { readonly principal: string; readonly name: string; readonly roles: readonly string[] }): Promise<AuditEntry> {
    return this.record({ principal: event.principal, action: 'token_create', outcome: 'allowed', details: { name: event.name, roles: [...event.roles] } });
  }

  tokenRevoked(event: { readonly principal: string; readonly name: string }): Promise<AuditEntry> {
    return this.record({ principal: event.principal, action: 'token_revoke', outcome: 'allowed', details: { name: event.name } });
  }

  /** Who read the trail itself: exporting it reveals every entry. */
  exported(event: { readonly principal: string; readonly afterSeq: number }): Promise<AuditEntry> {
    return this.record({ principal: event.principal, action: 'audit_export', outcome: 'allowed', details: { after_seq: event.afterSeq } });
  }

  /**
   * The end of a read whose start was recorded: bytes sent, latency, outcome. Not an audit
   * entry (the start is), only an access event; best effort for the caller, who has answered.
   */
  async readCompleted(read: ReadCompletion): Promise<void> {
    if (this.#events === undefined) return;
    await this.#log.appendEvents([accessRecord(this.#events.topic, readCompletedEvent(read))]);
  }

  /** Recompute the whole chain (in pages, constant memory). */
  verify(): Promise<AuditVerification> {
    return this.#log.verify();
  }

  /** Every entry after `afterSeq` as export records (the hash chain's field names). */
  async *export(options: { readonly afterSeq?: number } = {}): AsyncGenerator<AuditRecord> {
    for await (const entry of this.#log.entries(options.afterSeq === undefined ? {} : { afterSeq: options.afterSeq })) yield auditRecord(entry);
  }

  /**
   * The export as JSON lines in a byte stream, pulled a page at a time as the reader consumes
   * it: constant memory whatever the log's length, and reading stops when the reader goes away.
   */
  exportStream(options: { readonly afterSeq?: number } = {}): Readable {
    const records = this.export(options);
    return Readable.from(
      (async function* () {
        for await (const record of records) yield `${JSON.stringify(record)}\n`;
      })(),
      { objectMode: false },
    );
  }
}

/** An operation the trail could not record: refused (input errors keep their own code). */
function refused(action: string, err: unknown): MovingDataError {
  if (isMovingDataError(err) && (err.code === 'invalid_argument' || err.code === 'invalid_key')) return err;
  return new MovingDataError('unavailable', `the audit trail could not record this ${action}, so it was refused; try again later`, {
    retryable: true,
    cause: err,
    details: { action },
  });
}

function objectEntry(action: AuditAction, event: ObjectEvent): NewAuditEntry {
  return {
    principal: event.principal,
    action,
    outcome: event.outcome ?? 'allowed',
    location: event.location,
    objectKey: event.objectKey,
    keyId: event.keyId ?? null,
    sha256: event.sha256 ?? null,
    ...(event.details === undefined ? {} : { details: event.details }),
  };
}

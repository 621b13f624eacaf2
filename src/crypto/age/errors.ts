/**
 * How an age file can fail to decrypt. Every failure is one `MovingDataError` code,
 * `decryption_failed` (callers answer it the same way), with a `reason` that says what was wrong
 * for logs, audits and tests. None of them is worth retrying: the stored bytes will not change.
 */
import { MovingDataError } from '../../errors.ts';

export type AgeFailureReason =
  /** The ASCII armor around the file is not the strict PEM the spec requires. */
  | 'malformed_armor'
  /** The header does not parse, has an unsupported version, or a stanza for us is malformed. */
  | 'malformed_header'
  /** The header parsed, but none of our identities unwraps any of its stanzas. */
  | 'no_identity_matched'
  /** A stanza gave a file key, but the header MAC does not verify: the header was changed. */
  | 'header_mac_mismatch'
  /** A payload chunk's tag does not verify: changed, reordered, duplicated or from another file. */
  | 'chunk_authentication_failed'
  /** The bytes end early: inside the header, the nonce, a chunk, or before the final chunk. */
  | 'truncated'
  /** Bytes follow the final chunk. */
  | 'trailing_data'
  /** The payload is structurally impossible (an empty final chunk after other chunks). */
  | 'malformed_payload';

/** Where in the file a truncation was found. */
export type AgePart = 'header' | 'nonce' | 'payload';

export class AgeDecryptionError extends MovingDataError {
  readonly reason: AgeFailureReason;

  constructor(reason: AgeFailureReason, message: string, details: Record<string, unknown> = {}) {
    super('decryption_failed', message, { retryable: false, details: { reason, ...details } });
    this.name = 'AgeDecryptionError';
    this.reason = reason;
  }
}

export function isAgeDecryptionError(err: unknown): err is AgeDecryptionError {
  return err instanceof AgeDecryptionError;
}

/** A key, recipient or argument given to us is malformed: the caller's mistake, never the file's. */
export function invalidArgument(message: string, details?: Record<string, unknown>): MovingDataError {
  return new MovingDataError('invalid_argument', message, { retryable: false, ...(details === undefined ? {} : { details }) });
}

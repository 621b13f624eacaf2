/**
 * The two roles of the age format, as in the reference implementation: a recipient wraps a file
 * key into a stanza, an identity unwraps stanzas addressed to it. Only X25519 is implemented
 * (keys.ts); other types (scrypt, hybrid post-quantum, plugins) would implement these two
 * interfaces and nothing else would change.
 */

/** One recipient stanza of a header: `-> type args...` and its body. */
export interface Stanza {
  /** First argument: the recipient type (`X25519`, `scrypt`, an unknown type from another tool, ...). */
  readonly type: string;
  /** The arguments after the type. */
  readonly args: readonly string[];
  readonly body: Buffer;
}

export interface Recipient {
  /** Recipient type, the stanza type it writes. */
  readonly type: string;
  /** Wraps a 16-byte file key into a new stanza (fresh randomness every call). */
  wrap(fileKey: Buffer): Stanza;
  /** The public encoding (`age1...`). */
  toString(): string;
}

export interface Identity {
  readonly type: string;
  /**
   * The file key if `stanza` is addressed to this identity and unwraps; undefined if the stanza
   * is of another type or for another key. Throws `AgeDecryptionError('malformed_header')` when a
   * stanza of this identity's type breaks the spec's rules (argument count, encoding, lengths,
   * a low-order share): such a header is rejected, not skipped.
   */
  unwrapStanza(stanza: Stanza): Buffer | undefined;
}

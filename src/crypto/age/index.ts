/**
 * age v1 (https://age-encryption.org/v1), streaming, with X25519 recipients: MovingData's
 * client-side encryption format. Anything written here decrypts with the standard `age` tool and
 * the location's identity, and anything `age` writes to our recipients decrypts here.
 *
 * Keys — parse once at start-up, pass the objects down:
 *   generateIdentity() · parseIdentity('AGE-SECRET-KEY-1…') · parseRecipient('age1…')
 *   recipientOf(identity) · parseIdentityFile(text) / formatIdentityFile(identity) (age-keygen's format)
 *   Malformed keys throw MovingDataError `invalid_argument`.
 *
 * Encrypting one object to one place:
 *   source.pipe(createEncryptStream([recipient])).pipe(sink)
 *
 * Fan-out (one payload, many headers — encrypt once, store to N locations):
 *   const fileKey = newFileKey();
 *   const { transform } = createPayloadEncryptor(fileKey);   // emits nonce ‖ chunks
 *   location i stores encodeHeader(fileKey, [recipient_i]) ‖ <the same payload bytes>
 *
 * Decrypting a whole object:
 *   stored.pipe(createDecryptStream([identity])).pipe(sink)
 *   Nothing comes out before the header MAC and the first chunk verify.
 *
 * Key rotation and cross-location moves (the payload is never re-encrypted):
 *   const { header, rest } = await readHeader(storedStream);        // or from a Buffer
 *   const newHeader = rewrapHeader(header.bytes, [oldIdentity], [newRecipient]);
 *   new object = newHeader ‖ rest ‖ the rest of storedStream (the stored bytes after the header)
 *
 * Ranged reads (decrypt only the chunks holding the range):
 *   const opened = openFile(firstBytesOfObject, [identity]);        // header + nonce + file key
 *   const { plan, transform } = createRangeDecryptor(opened, { plaintextSize, start, end });
 *   fetch stored bytes plan.fetchStart..plan.fetchEnd (inclusive) and pipe them through transform
 *
 * Sizes: payloadSize(plaintext) and plaintextSize(payload) convert between a plaintext size and
 * its payload's (nonce + chunks); the stored object adds the header length.
 *
 * Streams keep references to the Buffers written to them until the chunk they belong to is
 * sealed or opened (no copy on the fast path): as with any Node stream, do not modify a Buffer
 * after writing it. ASCII armor (`age -a`) is a separate stage: createArmorDecodeStream() before
 * createDecryptStream, createArmorEncodeStream() after createEncryptStream.
 *
 * Failures while decrypting are `AgeDecryptionError` (MovingDataError code `decryption_failed`)
 * with a `reason`: malformed_armor, malformed_header, no_identity_matched, header_mac_mismatch,
 * chunk_authentication_failed, truncated, trailing_data, malformed_payload.
 */
import type { Transform } from 'node:stream';
import type { OpenedFile } from './file.ts';
import { createRangeDecryptStream, planRange, type RangePlan } from './range.ts';
import { PayloadDecryptStream, PayloadEncryptStream } from './stream.ts';

export type { Identity, Recipient, Stanza } from './types.ts';
export {
  X25519Identity,
  X25519Recipient,
  formatIdentityFile,
  generateIdentity,
  isIdentity,
  isRecipient,
  parseIdentity,
  parseIdentityFile,
  parseRecipient,
  parseRecipientsFile,
  recipientOf,
} from './keys.ts';
export { AgeDecryptionError, isAgeDecryptionError, type AgeFailureReason, type AgePart } from './errors.ts';
export { MAX_HEADER_BYTES, encodeHeader, parseHeader, readHeader, rewrapHeader, unwrapFileKey, type AgeHeader, type HeaderOptions, type HeaderRead } from './header.ts';
export { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, TAG_SIZE, chunkCount, newFileKey, payloadSize, plaintextSize, type OpenerOptions } from './stream.ts';
export { DecryptStream, createDecryptStream, createEncryptStream, openFile, type OpenedFile } from './file.ts';
export { createRangeDecryptStream, planRange, type RangePlan, type RangeRequest } from './range.ts';
export { ARMOR_BEGIN, ARMOR_END, createArmorDecodeStream, createArmorEncodeStream, isArmored } from './armor.ts';

export interface PayloadEncryptor {
  /** The payload's random nonce (the first 16 bytes `transform` emits). */
  readonly nonce: Buffer;
  /** Plaintext in, payload (nonce ‖ chunks) out. */
  readonly transform: Transform;
}

/**
 * The payload half of an age file, for a file key the caller wraps into as many headers as it
 * needs (`encodeHeader`): fan-out to N locations encrypts once.
 */
export function createPayloadEncryptor(fileKey: Buffer): PayloadEncryptor {
  const transform = new PayloadEncryptStream(fileKey);
  return { nonce: transform.nonce, transform };
}

/** Payload (nonce ‖ chunks, i.e. the stored bytes after the header) in, plaintext out. */
export function createPayloadDecryptor(fileKey: Buffer): Transform {
  return new PayloadDecryptStream(fileKey);
}

export interface RangeDecryptor {
  /** What to fetch: stored bytes `plan.fetchStart..plan.fetchEnd`, inclusive. */
  readonly plan: RangePlan;
  /** Fetched bytes in, exactly plaintext `start..end` out. */
  readonly transform: Transform;
}

/**
 * A ranged read of an opened file (see `openFile`): the stored byte range to fetch and the
 * stream that decrypts it. `end` is inclusive, as in HTTP; out-of-range requests throw
 * `range_not_satisfiable`.
 */
export function createRangeDecryptor(opened: OpenedFile, range: { plaintextSize: number; start: number; end: number }): RangeDecryptor {
  const plan = planRange({ headerLength: opened.headerLength, ...range });
  return { plan, transform: createRangeDecryptStream(opened.fileKey, opened.nonce, plan) };
}

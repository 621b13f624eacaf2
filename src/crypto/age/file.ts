/**
 * Whole age files: header then payload, as one stream each way, and opening a file's first
 * bytes for ranged reads.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { invalidArgument } from './errors.ts';
import { MAX_HEADER_BYTES, encodeHeader, parseHeader, scanHeader, truncatedHeader, unwrapFileKey, type AgeHeader, type HeaderOptions } from './header.ts';
import { NONCE_SIZE, PayloadEncryptStream, PayloadOpener, newFileKey, payloadKey, truncatedNonce } from './stream.ts';
import type { Identity, Recipient } from './types.ts';

/** Plaintext in, a complete age file out (a fresh file key, wrapped for every recipient). */
export function createEncryptStream(recipients: readonly Recipient[]): Transform {
  const fileKey = newFileKey();
  return new PayloadEncryptStream(fileKey, { prefix: encodeHeader(fileKey, recipients) });
}

/**
 * A complete age file in, plaintext out. Nothing is emitted before the header MAC and the first
 * chunk have verified, so a caller can still answer with an error status.
 */
export class DecryptStream extends Transform {
  readonly #identities: readonly Identity[];
  readonly #maxHeaderBytes: number;
  /** Bytes of the header (then of the nonce) read so far. */
  #pending: Buffer = Buffer.alloc(0);
  #fileKey: Buffer | undefined;
  #opener: PayloadOpener | undefined;
  #header: AgeHeader | undefined;
  #headerLength = 0;
  readonly #emit = (bytes: Buffer): void => {
    this.push(bytes);
  };

  constructor(identities: readonly Identity[], options: HeaderOptions = {}) {
    super();
    if (identities.length === 0) throw invalidArgument('at least one identity is needed to decrypt');
    this.#identities = identities;
    this.#maxHeaderBytes = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
  }

  /** The parsed header, once read (for logging the stanza types; it holds no secret). */
  get header(): AgeHeader | undefined {
    return this.#header;
  }

  /** Bytes the header occupies, once read. */
  get headerLength(): number {
    return this.#headerLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#write(chunk);
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#opener !== undefined) this.#opener.end(this.#emit);
      else if (this.#fileKey !== undefined) throw truncatedNonce(this.#pending.length);
      else throw truncatedHeader(this.#pending.length);
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  #write(chunk: Buffer): void {
    if (this.#opener !== undefined) return this.#opener.write(chunk, this.#emit);
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    if (this.#fileKey === undefined) {
      const found = scanHeader(this.#pending, this.#maxHeaderBytes);
      if (found === undefined) return;
      this.#header = found.header;
      this.#headerLength = found.headerLength;
      this.#fileKey = unwrapFileKey(found.header, this.#identities);
      this.#pending = this.#pending.subarray(found.headerLength);
    }
    if (this.#pending.length < NONCE_SIZE) return;
    const nonce = this.#pending.subarray(0, NONCE_SIZE);
    const rest = this.#pending.subarray(NONCE_SIZE);
    this.#pending = Buffer.alloc(0);
    this.#opener = new PayloadOpener(payloadKey(this.#fileKey, nonce));
    if (rest.length > 0) this.#opener.write(rest, this.#emit);
  }
}

export function createDecryptStream(identities: readonly Identity[], options: HeaderOptions = {}): DecryptStream {
  return new DecryptStream(identities, options);
}

export interface OpenedFile {
  readonly header: AgeHeader;
  readonly headerLength: number;
  readonly fileKey: Buffer;
  readonly nonce: Buffer;
  /** Offset of chunk 0 in the stored file: `headerLength + 16`. */
  readonly chunksOffset: number;
}

/**
 * Reads the header and nonce from the first bytes of a stored file (`head` must reach at least
 * 16 bytes past the header; a few KiB always do for X25519 headers) and unwraps the file key:
 * everything a ranged read needs besides the chunks themselves.
 */
export function openFile(head: Uint8Array, identities: readonly Identity[], options: HeaderOptions = {}): OpenedFile {
  const { header, headerLength, rest } = parseHeader(head, options);
  const fileKey = unwrapFileKey(header, identities);
  if (rest.length < NONCE_SIZE) throw truncatedNonce(rest.length);
  return { header, headerLength, fileKey, nonce: Buffer.from(rest.subarray(0, NONCE_SIZE)), chunksOffset: headerLength + NONCE_SIZE };
}

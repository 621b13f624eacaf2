/**
 * The age payload (spec, "Payload"): a 16-byte random nonce, then the plaintext in 64 KiB chunks,
 * each sealed with ChaCha20-Poly1305 under
 *
 *   payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")
 *   chunk nonce = 11-byte big-endian chunk counter ‖ 0x01 for the final chunk, 0x00 before it
 *
 * The final chunk may be shorter than 64 KiB (or a full one), and is empty only when the whole
 * plaintext is. Because the counter and the final flag are in every nonce, a chunk that is
 * reordered, duplicated, dropped or moved to the end fails its tag.
 *
 * `PayloadSealer` and `PayloadOpener` do the chunking and the cipher work, with no stream
 * machinery, so that whole-file, payload-only and ranged streams share one implementation. The
 * cipher is OpenSSL's (node:crypto); per chunk they create one cipher and, when the input arrives
 * in pieces that straddle chunks, copy into one reusable 64 KiB buffer. A full chunk is held
 * (by reference) until the next byte or the end shows whether it is the final one.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { MovingDataError } from '../../errors.ts';
import { AgeDecryptionError, invalidArgument } from './errors.ts';
import { checkFileKey } from './header.ts';
import { FILE_KEY_BYTES } from './x25519.ts';

/** Plaintext bytes per chunk. */
export const CHUNK_SIZE = 64 * 1024;
/** Poly1305 tag after each chunk. */
export const TAG_SIZE = 16;
/** Stored bytes per full chunk. */
export const ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
/** The random nonce that starts every payload. */
export const NONCE_SIZE = 16;

const MAX_SIZE = Number.MAX_SAFE_INTEGER;

/** A fresh random 16-byte file key (never reuse one across files). */
export function newFileKey(): Buffer {
  return randomBytes(FILE_KEY_BYTES);
}

export function payloadKey(fileKey: Buffer, nonce: Buffer): KeyObject {
  checkFileKey(fileKey);
  if (nonce.length !== NONCE_SIZE) throw invalidArgument(`a payload nonce is ${NONCE_SIZE} bytes, got ${nonce.length}`);
  return createSecretKey(Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32)));
}

/** Number of chunks for a plaintext size: at least one (an empty file has one empty final chunk). */
export function chunkCount(plaintextSize: number): number {
  checkSize(plaintextSize, 'plaintext size');
  return Math.max(1, Math.ceil(plaintextSize / CHUNK_SIZE));
}

/** Bytes of the payload (nonce + chunks) for a plaintext size; the stored file adds its header. */
export function payloadSize(plaintextSize: number): number {
  return NONCE_SIZE + plaintextSize + TAG_SIZE * chunkCount(plaintextSize);
}

/**
 * The plaintext size of a payload (nonce + chunks) of `payloadSize` bytes. Throws
 * `invalid_argument` for sizes no payload can have (shorter than nonce + one tag, a final chunk
 * shorter than its tag, or an empty final chunk after full ones).
 */
export function plaintextSize(payloadSize: number): number {
  checkSize(payloadSize, 'payload size');
  const chunked = payloadSize - NONCE_SIZE;
  const impossible = (): MovingDataError => invalidArgument(`no age payload is ${payloadSize} bytes long`);
  if (chunked < TAG_SIZE) throw impossible();
  const fullChunks = Math.floor(chunked / ENCRYPTED_CHUNK_SIZE);
  const tail = chunked % ENCRYPTED_CHUNK_SIZE;
  if (tail === 0) return fullChunks * CHUNK_SIZE;
  if (tail < TAG_SIZE || (tail === TAG_SIZE && fullChunks > 0)) throw impossible();
  return fullChunks * CHUNK_SIZE + tail - TAG_SIZE;
}

function checkSize(size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) throw invalidArgument(`${what} must be a non-negative integer, got ${size}`);
}

/** Writes the ChaCha20-Poly1305 nonce of chunk `index` into `out` (12 bytes). */
function chunkNonce(out: Buffer, index: number, final: boolean): Buffer {
  out.fill(0, 0, 3);
  out.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 3);
  out.writeUInt32BE(index >>> 0, 7);
  out[11] = final ? 1 : 0;
  return out;
}

type Emit = (bytes: Buffer) => void;

/** Encrypts plaintext into chunks (without the nonce, which the caller writes first). */
export class PayloadSealer {
  readonly #key: KeyObject;
  readonly #nonce = Buffer.alloc(12);
  readonly #assembly = Buffer.allocUnsafe(CHUNK_SIZE);
  #filled = 0;
  /** A full chunk waiting to learn whether it is the final one. */
  #held: Buffer | undefined;
  #index = 0;
  #ended = false;

  constructor(key: KeyObject) {
    this.#key = key;
  }

  write(data: Buffer, emit: Emit): void {
    if (this.#ended) throw new Error('PayloadSealer: write after end');
    let offset = 0;
    while (offset < data.length) {
      if (this.#held !== undefined) {
        // More plaintext follows, so the held chunk is not the final one.
        this.#seal(this.#held, false, emit);
        this.#held = undefined;
      }
      const remaining = data.length - offset;
      if (this.#filled === 0 && remaining >= CHUNK_SIZE) {
        // A whole chunk inside the input: keep a view, no copy.
        this.#held = data.subarray(offset, offset + CHUNK_SIZE);
        offset += CHUNK_SIZE;
        continue;
      }
      const take = Math.min(CHUNK_SIZE - this.#filled, remaining);
      data.copy(this.#assembly, this.#filled, offset, offset + take);
      this.#filled += take;
      offset += take;
      if (this.#filled === CHUNK_SIZE) {
        this.#held = this.#assembly;
        this.#filled = 0;
      }
    }
  }

  end(emit: Emit): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#seal(this.#held ?? this.#assembly.subarray(0, this.#filled), true, emit);
    this.#held = undefined;
  }

  #seal(plaintext: Buffer, final: boolean, emit: Emit): void {
    const cipher = createCipheriv('chacha20-poly1305', this.#key, chunkNonce(this.#nonce, this.#index, final), { authTagLength: TAG_SIZE });
    if (plaintext.length > 0) emit(cipher.update(plaintext));
    cipher.final();
    emit(cipher.getAuthTag());
    this.#index += 1;
  }
}

export interface OpenerOptions {
  /** Index of the first chunk in the input (ranged reads start mid-payload). Default 0. */
  readonly firstChunk?: number;
  /**
   * Whether the input ends with the file's final chunk (default true). A range that stops
   * before the final chunk ends with a full, non-final one.
   */
  readonly endsWithFinal?: boolean;
  /** How many chunks the input holds, when known (ranged reads); more or fewer is an error. */
  readonly chunks?: number;
  /** Plaintext bytes to drop from the start of the first chunk. */
  readonly skip?: number;
  /** Plaintext bytes to emit after `skip`; the rest is verified and dropped. */
  readonly length?: number;
}

/**
 * Decrypts chunks. A chunk's plaintext is emitted only after its tag verifies, so nothing is
 * released before the first chunk is authenticated. As in the reference implementation, a chunk
 * that verifies is released even when what follows it is then found wrong (data after the final
 * chunk, no final chunk): the error still ends the stream.
 */
export class PayloadOpener {
  readonly #key: KeyObject;
  readonly #nonce = Buffer.alloc(12);
  readonly #assembly = Buffer.allocUnsafe(ENCRYPTED_CHUNK_SIZE);
  readonly #firstChunk: number;
  readonly #endsWithFinal: boolean;
  readonly #lastChunk: number | undefined;
  #filled = 0;
  #held: Buffer | undefined;
  #index: number;
  #finished = false;
  #skip: number;
  #remaining: number;

  constructor(key: KeyObject, options: OpenerOptions = {}) {
    this.#key = key;
    this.#firstChunk = options.firstChunk ?? 0;
    this.#index = this.#firstChunk;
    this.#endsWithFinal = options.endsWithFinal ?? true;
    this.#lastChunk = options.chunks === undefined ? undefined : this.#firstChunk + options.chunks - 1;
    this.#skip = options.skip ?? 0;
    this.#remaining = options.length ?? Number.POSITIVE_INFINITY;
  }

  write(data: Buffer, emit: Emit): void {
    let offset = 0;
    while (offset < data.length) {
      if (this.#finished) throw trailing(this.#index - 1);
      if (this.#held !== undefined) {
        const held = this.#held;
        this.#held = undefined;
        this.#openFollowed(held, emit);
        continue;
      }
      const remaining = data.length - offset;
      if (this.#filled === 0 && remaining >= ENCRYPTED_CHUNK_SIZE) {
        this.#held = data.subarray(offset, offset + ENCRYPTED_CHUNK_SIZE);
        offset += ENCRYPTED_CHUNK_SIZE;
        continue;
      }
      const take = Math.min(ENCRYPTED_CHUNK_SIZE - this.#filled, remaining);
      data.copy(this.#assembly, this.#filled, offset, offset + take);
      this.#filled += take;
      offset += take;
      if (this.#filled === ENCRYPTED_CHUNK_SIZE) {
        this.#held = this.#assembly;
        this.#filled = 0;
      }
    }
  }

  end(emit: Emit): void {
    if (this.#finished) return;
    const last = this.#held ?? (this.#filled > 0 ? this.#assembly.subarray(0, this.#filled) : undefined);
    this.#held = undefined;
    this.#filled = 0;
    if (last === undefined) {
      if (this.#index === this.#firstChunk) throw truncated(this.#index === 0 ? 'the payload has no chunks' : `the input ends before chunk ${this.#index}`);
      throw truncated(`the file ends after chunk ${this.#index - 1} without a final chunk`);
    }
    this.#openLast(last, emit);
  }

  /** A full chunk with more input after it: a non-final chunk, or a final one with trailing data. */
  #openFollowed(chunk: Buffer, emit: Emit): void {
    const index = this.#index;
    if (this.#lastChunk !== undefined && index === this.#lastChunk) {
      throw new AgeDecryptionError('trailing_data', `more data than the ${this.#lastChunk - this.#firstChunk + 1} chunk(s) requested`, { chunk: index });
    }
    const plaintext = this.#open(chunk, false);
    if (plaintext !== undefined) return this.#release(plaintext, emit);
    const final = this.#endsWithFinal ? this.#open(chunk, true) : undefined;
    if (final === undefined) throw authFailed(index);
    this.#finished = true;
    this.#release(final, emit);
    throw trailing(index);
  }

  /** The last chunk of the input. */
  #openLast(chunk: Buffer, emit: Emit): void {
    const index = this.#index;
    if (this.#lastChunk !== undefined && index < this.#lastChunk) throw truncated(`the input ends at chunk ${index}, before chunk ${this.#lastChunk}`);
    if (chunk.length < TAG_SIZE) throw truncated(`chunk ${index} is ${chunk.length} bytes, shorter than its tag`);
    if (!this.#endsWithFinal) {
      if (chunk.length !== ENCRYPTED_CHUNK_SIZE) throw truncated(`chunk ${index} is ${chunk.length} bytes, expected a full chunk`);
      const plaintext = this.#open(chunk, false);
      if (plaintext === undefined) throw authFailed(index);
      this.#finished = true;
      return this.#release(plaintext, emit);
    }
    if (chunk.length === TAG_SIZE && index > 0) {
      throw new AgeDecryptionError('malformed_payload', `final chunk ${index} is empty (only an empty file may end with an empty chunk)`, { chunk: index });
    }
    const final = this.#open(chunk, true);
    if (final !== undefined) {
      this.#finished = true;
      return this.#release(final, emit);
    }
    // A full chunk that is not final: the file was cut at a chunk boundary.
    const notFinal = chunk.length === ENCRYPTED_CHUNK_SIZE ? this.#open(chunk, false) : undefined;
    if (notFinal === undefined) throw authFailed(index);
    this.#finished = true;
    this.#release(notFinal, emit);
    throw truncated(`the file ends after chunk ${index} without a final chunk`);
  }

  #open(chunk: Buffer, final: boolean): Buffer | undefined {
    const split = chunk.length - TAG_SIZE;
    const decipher = createDecipheriv('chacha20-poly1305', this.#key, chunkNonce(this.#nonce, this.#index, final), { authTagLength: TAG_SIZE });
    decipher.setAuthTag(chunk.subarray(split));
    const plaintext = decipher.update(chunk.subarray(0, split));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return plaintext;
  }

  #release(plaintext: Buffer, emit: Emit): void {
    this.#index += 1;
    let out = plaintext;
    if (this.#skip > 0) {
      const drop = Math.min(this.#skip, out.length);
      out = out.subarray(drop);
      this.#skip -= drop;
    }
    if (out.length > this.#remaining) out = out.subarray(0, this.#remaining);
    this.#remaining -= out.length;
    if (out.length > 0) emit(out);
  }
}

function authFailed(index: number): AgeDecryptionError {
  return new AgeDecryptionError(
    'chunk_authentication_failed',
    `chunk ${index} failed authentication: the payload was modified, reordered, truncated or belongs to another file`,
    { chunk: index },
  );
}

function trailing(index: number): AgeDecryptionError {
  return new AgeDecryptionError('trailing_data', `data after the final chunk (chunk ${index})`, { chunk: index });
}

function truncated(message: string): AgeDecryptionError {
  return new AgeDecryptionError('truncated', `truncated: ${message}`, { part: 'payload' });
}

/**
 * Plaintext in, payload out: the nonce, then the chunks. An optional `prefix` (a header) is
 * written before the nonce, which makes the output a whole age file.
 */
export class PayloadEncryptStream extends Transform {
  /** This payload's random nonce (also its first 16 bytes). */
  readonly nonce: Buffer;
  readonly #sealer: PayloadSealer;
  #prefix: Buffer | undefined;
  readonly #emit: Emit = (bytes) => {
    this.push(bytes);
  };

  constructor(fileKey: Buffer, options: { prefix?: Buffer } = {}) {
    super();
    this.nonce = randomBytes(NONCE_SIZE);
    this.#sealer = new PayloadSealer(payloadKey(fileKey, this.nonce));
    this.#prefix = options.prefix === undefined ? this.nonce : Buffer.concat([options.prefix, this.nonce]);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#start();
      this.#sealer.write(chunk, this.#emit);
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#start();
      this.#sealer.end(this.#emit);
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  #start(): void {
    if (this.#prefix === undefined) return;
    this.push(this.#prefix);
    this.#prefix = undefined;
  }
}

/** Payload in (nonce, then chunks), plaintext out; or a run of chunks (see `OpenerOptions`) with a known nonce. */
export class PayloadDecryptStream extends Transform {
  readonly #fileKey: Buffer;
  readonly #options: OpenerOptions;
  #opener: PayloadOpener | undefined;
  #nonce: Buffer = Buffer.alloc(0);
  readonly #emit: Emit = (bytes) => {
    this.push(bytes);
  };

  /** With `nonce`, the input starts at the first chunk; without, it starts with the nonce. */
  constructor(fileKey: Buffer, options: OpenerOptions & { nonce?: Buffer } = {}) {
    super();
    checkFileKey(fileKey);
    this.#fileKey = fileKey;
    this.#options = options;
    if (options.nonce !== undefined) this.#opener = new PayloadOpener(payloadKey(fileKey, options.nonce), options);
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
      if (this.#opener === undefined) throw truncatedNonce(this.#nonce.length);
      this.#opener.end(this.#emit);
    } catch (err) {
      return callback(err as Error);
    }
    callback();
  }

  #write(chunk: Buffer): void {
    if (this.#opener !== undefined) return this.#opener.write(chunk, this.#emit);
    const need = NONCE_SIZE - this.#nonce.length;
    this.#nonce = Buffer.concat([this.#nonce, chunk.subarray(0, need)]);
    if (this.#nonce.length < NONCE_SIZE) return;
    this.#opener = new PayloadOpener(payloadKey(this.#fileKey, this.#nonce), this.#options);
    if (chunk.length > need) this.#opener.write(chunk.subarray(need), this.#emit);
  }
}

export function truncatedNonce(length: number): AgeDecryptionError {
  return new AgeDecryptionError('truncated', `truncated: the file ends inside the payload nonce (${length} of ${NONCE_SIZE} bytes)`, { part: 'nonce' });
}

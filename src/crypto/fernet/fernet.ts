/**
 * Fernet (https://github.com/fernet/spec), the seed's encryption format, kept so that locations
 * configured with a Fernet key read and write what the seed (Python's `cryptography`) wrote.
 *
 *   key   = base64url(signing key 16 ‖ AES-128 key 16)
 *   token = base64url(0x80 ‖ timestamp u64 BE ‖ IV 16 ‖ AES-128-CBC-PKCS7(plaintext) ‖ HMAC-SHA256)
 *
 * The HMAC covers everything before it and sits at the very end, so no byte of plaintext may be
 * released before the whole token has been read and checked: Fernet cannot stream. Callers
 * holding streams use `encryptStreamToToken` / `decryptTokenStream`, which work chunk by chunk
 * (ciphertext and HMAC are computed as bytes arrive, the token text is never held beside its
 * decoded bytes) but must keep the result whole, so they refuse anything over `maxBytes`
 * (default `FERNET_MAX_BYTES`) with `too_large` as soon as the input passes it, instead of
 * running out of memory. Objects larger than that belong in the age format.
 *
 * Every way a token can be wrong (not base64url, wrong version, too short, bad HMAC, bad
 * padding, expired, from the far future) is the one code `decryption_failed`, and no plaintext
 * is returned.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual, type Cipheriv, type Decipheriv, type Hmac } from 'node:crypto';
import { MovingDataError } from '../../errors.ts';
import { Base64UrlDecoder, Base64UrlEncoder, Base64UrlError } from './base64url.ts';

/** Largest plaintext the stream helpers accept by default: 64 MiB. */
export const FERNET_MAX_BYTES = 64 * 1024 * 1024;

/** How far a token's timestamp may be ahead of our clock when a TTL is checked (as in the spec's implementations). */
export const FERNET_MAX_CLOCK_SKEW_SECONDS = 60;

const VERSION = 0x80;
const KEY_BYTES = 32;
const HALF_KEY_BYTES = 16;
const IV_BYTES = 16;
const BLOCK_BYTES = 16;
const MAC_BYTES = 32;
/** version ‖ timestamp ‖ IV */
const HEADER_BYTES = 1 + 8 + IV_BYTES;
/** Trailing whitespace (a token saved with CRLF) the stream decoder allows past the token length. */
const TRAILING_WHITESPACE_ALLOWANCE = 2;

/**
 * A parsed Fernet key. The secret halves are private fields behind getters returning copies,
 * so logging or serializing a key shows nothing of it.
 */
export class FernetKey {
  readonly #signingKey: Buffer;
  readonly #encryptionKey: Buffer;

  /** From the 32 raw key bytes (see `parseFernetKey` for the text form). */
  constructor(bytes: Uint8Array) {
    if (bytes.length !== KEY_BYTES) {
      throw new MovingDataError('invalid_argument', `a Fernet key is ${KEY_BYTES} bytes, got ${bytes.length}`);
    }
    this.#signingKey = Buffer.from(bytes.subarray(0, HALF_KEY_BYTES));
    this.#encryptionKey = Buffer.from(bytes.subarray(HALF_KEY_BYTES));
  }

  /** HMAC-SHA256 key: the first 16 bytes. */
  get signingKey(): Buffer {
    return Buffer.from(this.#signingKey);
  }

  /** AES-128 key: the last 16 bytes. */
  get encryptionKey(): Buffer {
    return Buffer.from(this.#encryptionKey);
  }

  toString(): string {
    return '[FernetKey]';
  }

  toJSON(): string {
    return '[FernetKey]';
  }
}

// Python's cryptography runs the key through base64.urlsafe_b64decode: it accepts the url-safe
// and the standard alphabet, requires padding, and silently drops any other character. We accept
// both alphabets, with or without the one `=`, with surrounding whitespace (key files end in a
// newline), and refuse stray characters inside instead of guessing what was meant.
const KEY_TEXT = /^[A-Za-z0-9_\-+/]{43}=?$/;

/** Parses a Fernet key as `Fernet.generate_key()` writes it (44 characters of base64url). */
export function parseFernetKey(text: string): FernetKey {
  const trimmed = text.trim();
  if (!KEY_TEXT.test(trimmed)) {
    // Never echo the text: it may be (most of) a secret.
    throw new MovingDataError(
      'invalid_argument',
      `a Fernet key must be 32 bytes of url-safe base64 (44 characters ending in '=', as Fernet.generate_key() ` +
        `writes); got ${trimmed.length} characters that are not`,
    );
  }
  return new FernetKey(Buffer.from(trimmed.replaceAll('+', '-').replaceAll('/', '_'), 'base64url'));
}

/** A fresh random key. */
export function generateFernetKey(): FernetKey {
  return new FernetKey(randomBytes(KEY_BYTES));
}

/** The key's text form, exactly as Python's `Fernet.generate_key()` writes it (padded base64url). */
export function formatFernetKey(key: FernetKey): string {
  return `${Buffer.concat([key.signingKey, key.encryptionKey]).toString('base64url')}=`;
}

export interface FernetEncryptOptions {
  /** The token's timestamp (default: now). */
  readonly now?: Date;
  /** 16 bytes; random by default. Only tests should pass one: a reused IV leaks plaintext. */
  readonly iv?: Uint8Array;
}

export interface FernetDecryptOptions {
  /** The time to check a TTL against (default: now). */
  readonly now?: Date;
  /**
   * Maximum token age in seconds. Without it no time check is made (as in Python's
   * `Fernet.decrypt(token)`): stored objects do not expire, and a writer whose clock ran ahead
   * must not make them unreadable. With it, a token older than this or more than
   * FERNET_MAX_CLOCK_SKEW_SECONDS in the future is refused.
   */
  readonly ttlSeconds?: number;
}

/** What the stream helpers read: a Readable, or any (async) iterable of byte or text chunks. */
export type FernetSource = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

export interface FernetStreamLimit {
  /** Largest plaintext accepted, in bytes (default FERNET_MAX_BYTES). */
  readonly maxBytes?: number;
}

/** Length in characters of the token for `plaintextBytes` bytes of plaintext. */
export function fernetTokenLength(plaintextBytes: number): number {
  const ciphertext = (Math.floor(plaintextBytes / BLOCK_BYTES) + 1) * BLOCK_BYTES;
  return 4 * Math.ceil((HEADER_BYTES + ciphertext + MAC_BYTES) / 3);
}

/** Encrypts `plaintext` into a token (padded base64url text, as Python writes it). */
export function fernetEncrypt(key: FernetKey, plaintext: Uint8Array, options: FernetEncryptOptions = {}): string {
  const sealer = new TokenSealer(key, options);
  sealer.push(plaintext);
  return sealer.finish();
}

/** Checks and decrypts a token; any fault is `decryption_failed` and returns no plaintext. */
export function fernetDecrypt(key: FernetKey, token: string | Uint8Array, options: FernetDecryptOptions = {}): Buffer {
  const opener = new TokenOpener(key, options);
  opener.push(token);
  return opener.finish();
}

/**
 * Encrypts a stream of plaintext into one token. Ciphertext and HMAC are computed as chunks
 * arrive; the token text is kept (it is the result), so at most `maxBytes` of plaintext are
 * accepted: one byte more and the source is destroyed and `too_large` thrown.
 */
export async function encryptStreamToToken(
  key: FernetKey,
  source: FernetSource,
  options: FernetEncryptOptions & FernetStreamLimit = {},
): Promise<string> {
  const maxBytes = checkMaxBytes(options.maxBytes);
  const sealer = new TokenSealer(key, options);
  let total = 0;
  // Throwing inside for-await calls the iterator's return(), which destroys a Readable source.
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    total += bytes.length;
    if (total > maxBytes) throw tooLarge(maxBytes, 'plaintext');
    sealer.push(bytes);
  }
  return sealer.finish();
}

/**
 * Reads a token from a stream and decrypts it. Bytes are decoded, authenticated and deciphered
 * as they arrive, but the plaintext is released only after the HMAC at the very end has been
 * checked, so it is collected whole: a token longer than the one for `maxBytes` of plaintext is
 * refused with `too_large` as soon as the input passes that length, and its source destroyed.
 */
export async function decryptTokenStream(
  key: FernetKey,
  source: FernetSource,
  options: FernetDecryptOptions & FernetStreamLimit = {},
): Promise<Buffer> {
  const maxBytes = checkMaxBytes(options.maxBytes);
  const maxTokenLength = fernetTokenLength(maxBytes) + TRAILING_WHITESPACE_ALLOWANCE;
  const opener = new TokenOpener(key, options);
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length; // characters of base64url, one byte each
    if (total > maxTokenLength) throw tooLarge(maxBytes, 'token');
    opener.push(chunk);
  }
  return opener.finish();
}

/** Builds a token chunk by chunk: header, then CBC ciphertext, then the HMAC of all of it. */
class TokenSealer {
  readonly #cipher: Cipheriv;
  readonly #hmac: Hmac;
  readonly #encoder = new Base64UrlEncoder();

  constructor(key: FernetKey, options: FernetEncryptOptions) {
    const iv = options.iv === undefined ? randomBytes(IV_BYTES) : Buffer.from(options.iv);
    if (iv.length !== IV_BYTES) {
      throw new MovingDataError('invalid_argument', `a Fernet IV is ${IV_BYTES} bytes, got ${iv.length}`);
    }
    const header = Buffer.alloc(HEADER_BYTES);
    header[0] = VERSION;
    header.writeBigUInt64BE(encryptionTimestamp(options.now), 1);
    iv.copy(header, 9);
    this.#cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv);
    this.#hmac = createHmac('sha256', key.signingKey);
    this.#write(header);
  }

  push(plaintext: Uint8Array): void {
    this.#write(this.#cipher.update(plaintext));
  }

  finish(): string {
    this.#write(this.#cipher.final());
    this.#encoder.push(this.#hmac.digest());
    return this.#encoder.end();
  }

  #write(bytes: Buffer): void {
    this.#hmac.update(bytes);
    this.#encoder.push(bytes);
  }
}

type FailureReason = 'malformed' | 'version' | 'expired' | 'future' | 'signature' | 'padding';

const FAILURE_MESSAGES: Readonly<Record<FailureReason, string>> = {
  malformed: 'not a Fernet token (bad base64url or length)',
  version: 'not a Fernet token (unknown version byte)',
  expired: 'the Fernet token has expired (older than its TTL)',
  future: 'the Fernet token is dated too far in the future',
  signature: 'the Fernet token does not authenticate with this key (wrong key, or altered)',
  padding: 'the Fernet token has invalid padding',
};

function failure(reason: FailureReason, cause?: unknown): MovingDataError {
  return new MovingDataError('decryption_failed', FAILURE_MESSAGES[reason], { cause, details: { format: 'fernet', reason } });
}

/**
 * Opens a token chunk by chunk in the order the spec gives: version, timestamp (when a TTL is
 * set), then HMAC over everything, compared in constant time, and only then the CBC padding.
 * Ciphertext is deciphered as it arrives (the last 32 bytes are held back: they may be the
 * HMAC), but the plaintext only leaves `finish()` once the HMAC matched.
 */
class TokenOpener {
  readonly #key: FernetKey;
  readonly #options: FernetDecryptOptions;
  readonly #decoder = new Base64UrlDecoder();
  readonly #hmac: Hmac;
  #header: Buffer = Buffer.alloc(0);
  #decipher: Decipheriv | undefined;
  /** The last bytes seen, up to 32: the HMAC if the token ends here. */
  #held: Buffer = Buffer.alloc(0);
  #ciphertextLength = 0;
  readonly #plaintext: Buffer[] = [];

  constructor(key: FernetKey, options: FernetDecryptOptions) {
    this.#key = key;
    this.#options = options;
    if (options.ttlSeconds !== undefined && !(Number.isSafeInteger(options.ttlSeconds) && options.ttlSeconds >= 0)) {
      throw new MovingDataError('invalid_argument', `ttlSeconds must be a non-negative integer, got ${options.ttlSeconds}`);
    }
    if (options.now !== undefined && Number.isNaN(options.now.getTime())) {
      throw new MovingDataError('invalid_argument', 'now is an invalid Date');
    }
    this.#hmac = createHmac('sha256', key.signingKey);
  }

  push(chunk: Uint8Array | string): void {
    let bytes: Buffer;
    try {
      bytes = this.#decoder.push(chunk);
    } catch (err) {
      throw failure('malformed', err);
    }
    this.#accept(bytes);
  }

  finish(): Buffer {
    try {
      this.#accept(this.#decoder.end());
    } catch (err) {
      if (err instanceof Base64UrlError) throw failure('malformed', err);
      throw err;
    }
    const decipher = this.#decipher;
    if (
      decipher === undefined ||
      this.#held.length !== MAC_BYTES ||
      this.#ciphertextLength === 0 ||
      this.#ciphertextLength % BLOCK_BYTES !== 0
    ) {
      throw failure('malformed');
    }
    if (!timingSafeEqual(this.#hmac.digest(), this.#held)) throw failure('signature');
    try {
      this.#plaintext.push(decipher.final());
    } catch (err) {
      throw failure('padding', err);
    }
    return Buffer.concat(this.#plaintext);
  }

  #accept(bytes: Buffer): void {
    if (bytes.length === 0) return;
    let body = bytes;
    if (this.#decipher === undefined) {
      const needed = HEADER_BYTES - this.#header.length;
      this.#header = Buffer.concat([this.#header, bytes.subarray(0, needed)]);
      body = bytes.subarray(needed);
      if (this.#header[0] !== VERSION) throw failure('version');
      if (this.#header.length < HEADER_BYTES) return;
      this.#checkTime(this.#header.readBigUInt64BE(1));
      this.#hmac.update(this.#header);
      this.#decipher = createDecipheriv('aes-128-cbc', this.#key.encryptionKey, this.#header.subarray(9, HEADER_BYTES));
    }
    if (body.length === 0) return;
    const joined = this.#held.length === 0 ? body : Buffer.concat([this.#held, body]);
    const release = joined.length - MAC_BYTES;
    if (release <= 0) {
      this.#held = Buffer.from(joined);
      return;
    }
    const ciphertext = joined.subarray(0, release);
    this.#hmac.update(ciphertext);
    this.#plaintext.push(this.#decipher.update(ciphertext));
    this.#ciphertextLength += release;
    // Copy: a subarray would keep the whole chunk alive.
    this.#held = Buffer.from(joined.subarray(release));
  }

  #checkTime(timestamp: bigint): void {
    const ttl = this.#options.ttlSeconds;
    if (ttl === undefined) return;
    const now = BigInt(Math.floor((this.#options.now ?? new Date()).getTime() / 1000));
    if (timestamp + BigInt(ttl) < now) throw failure('expired');
    if (now + BigInt(FERNET_MAX_CLOCK_SKEW_SECONDS) < timestamp) throw failure('future');
  }
}

function encryptionTimestamp(now: Date | undefined): bigint {
  const ms = (now ?? new Date()).getTime();
  if (!Number.isFinite(ms) || ms < 0) {
    throw new MovingDataError('invalid_argument', 'a Fernet timestamp must be a valid date from 1970 on');
  }
  return BigInt(Math.floor(ms / 1000));
}

function checkMaxBytes(maxBytes: number | undefined): number {
  const value = maxBytes ?? FERNET_MAX_BYTES;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MovingDataError('invalid_argument', `maxBytes must be a non-negative integer, got ${value}`);
  }
  return value;
}

function tooLarge(maxBytes: number, what: 'plaintext' | 'token'): MovingDataError {
  return new MovingDataError(
    'too_large',
    `Fernet is limited to ${formatBytes(maxBytes)} of plaintext per object and this ${what} is larger: ` +
      'Fernet authenticates the whole token at its end, so it cannot be streamed. ' +
      'Store larger objects in the age format.',
    { retryable: false, details: { format: 'fernet', maxBytes } },
  );
}

function formatBytes(bytes: number): string {
  const MiB = 1024 * 1024;
  return bytes % MiB === 0 && bytes > 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

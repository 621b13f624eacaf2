/**
 * Incremental base64url for Fernet tokens: bytes go in as they arrive and come out in whole
 * groups, so a token read from a stream is never held twice (once as text, once decoded).
 *
 * The decoder is strict where Python's `base64.urlsafe_b64decode` is lax: only the url-safe
 * alphabet, then optional `=` padding (0–2, and only the amount that completes the last group),
 * then optional trailing whitespace (a token saved with a newline). Every token a Fernet
 * implementation writes passes; junk that Python would silently skip does not.
 */

const EMPTY = Buffer.alloc(0);
const NOT_ALPHABET = /[^A-Za-z0-9_-]/;
/** Longest tail we accept after the data: `==` plus a CRLF, with room to spare. */
const MAX_TAIL = 8;

/** Thrown for malformed base64url; the Fernet layer turns it into `decryption_failed`. */
export class Base64UrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Base64UrlError';
  }
}

export class Base64UrlDecoder {
  /** Alphabet characters not yet decoded (fewer than one group of 4). */
  #pending = '';
  /** Number of alphabet characters seen so far. */
  #dataLength = 0;
  /** Everything after the first non-alphabet character; undefined while still in the data. */
  #tail: string | undefined;

  /** Decodes what can be decoded so far; keeps a partial group for the next call. */
  push(chunk: Uint8Array | string): Buffer {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    if (this.#tail !== undefined) {
      this.#appendTail(text);
      return EMPTY;
    }
    const stop = text.search(NOT_ALPHABET);
    const data = stop === -1 ? text : text.slice(0, stop);
    if (stop !== -1) this.#appendTail(text.slice(stop));
    this.#dataLength += data.length;
    const joined = this.#pending + data;
    const whole = joined.length - (joined.length % 4);
    this.#pending = joined.slice(whole);
    return whole === 0 ? EMPTY : Buffer.from(joined.slice(0, whole), 'base64url');
  }

  /** Checks the padding and tail, and decodes the last partial group. */
  end(): Buffer {
    const tail = this.#tail ?? '';
    const match = /^(=*)[\t\n\r ]*$/.exec(tail);
    if (match === null) throw new Base64UrlError('not base64url: unexpected character');
    const padding = match[1]?.length ?? 0;
    const rest = this.#dataLength % 4;
    if (rest === 1) throw new Base64UrlError('not base64url: truncated group');
    if (padding > 0 && (rest === 0 || rest + padding !== 4)) throw new Base64UrlError('not base64url: wrong padding');
    return this.#pending.length === 0 ? EMPTY : Buffer.from(this.#pending, 'base64url');
  }

  #appendTail(text: string): void {
    this.#tail = (this.#tail ?? '') + text;
    if (this.#tail.length > MAX_TAIL || !/^[=\t\n\r ]*$/.test(this.#tail)) {
      throw new Base64UrlError('not base64url: unexpected character');
    }
  }
}

/** Encodes bytes as they arrive; `end()` returns the whole padded text, as Python writes it. */
export class Base64UrlEncoder {
  #pending: Buffer = EMPTY;
  readonly #parts: string[] = [];
  #length = 0;

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const joined = this.#pending.length === 0 ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.concat([this.#pending, bytes]);
    const whole = joined.length - (joined.length % 3);
    if (whole > 0) this.#append(joined.subarray(0, whole).toString('base64url'));
    // Copy the remainder: a subarray would keep the whole chunk alive.
    this.#pending = Buffer.from(joined.subarray(whole));
  }

  end(): string {
    this.#append(this.#pending.toString('base64url'));
    this.#pending = EMPTY;
    this.#append('='.repeat((4 - (this.#length % 4)) % 4));
    return this.#parts.join('');
  }

  #append(text: string): void {
    if (text.length === 0) return;
    this.#parts.push(text);
    this.#length += text.length;
  }
}

/**
 * X25519 identities (`AGE-SECRET-KEY-1...`) and recipients (`age1...`), Bech32-encoded as in the
 * spec (BIP 173 without its length limit), plus the key-file format `age-keygen` writes.
 *
 * Identities keep their secret in private fields: logging, `JSON.stringify` or `util.inspect`
 * show the recipient only. `encode()` is the one way to get the secret text back out.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { bech32 } from '@scure/base';
import { invalidArgument } from './errors.ts';
import type { Identity, Recipient, Stanza } from './types.ts';
import { X25519_KEY_BYTES, X25519_STANZA_TYPE, rawPublicKey, sharedSecret, unwrapX25519, wrapX25519, x25519PrivateKey, x25519PublicKey } from './x25519.ts';

const IDENTITY_HRP = 'age-secret-key-';
const RECIPIENT_HRP = 'age';

/** The public side: anyone holding it can encrypt to the matching identity. */
export class X25519Recipient implements Recipient {
  readonly type = X25519_STANZA_TYPE;
  readonly #publicKey: Buffer;
  readonly #keyObject: KeyObject;
  readonly #encoded: string;

  /** From the raw 32-byte public key; throws `invalid_argument` for a wrong length or a low-order point. */
  constructor(publicKey: Uint8Array) {
    if (publicKey.length !== X25519_KEY_BYTES) {
      throw invalidArgument(`an X25519 recipient is ${X25519_KEY_BYTES} bytes, got ${publicKey.length}`);
    }
    this.#publicKey = Buffer.from(publicKey);
    this.#keyObject = x25519PublicKey(this.#publicKey);
    // A low-order point gives an all-zero shared secret with every key: nothing encrypted to it is secret.
    if (sharedSecret(probeKey(), this.#keyObject) === undefined) throw invalidArgument('X25519 recipient is a low-order point');
    this.#encoded = bech32.encode(RECIPIENT_HRP, bech32.toWords(this.#publicKey), false);
  }

  /** A copy of the raw 32-byte public key. */
  get publicKey(): Buffer {
    return Buffer.from(this.#publicKey);
  }

  wrap(fileKey: Buffer): Stanza {
    return wrapX25519(fileKey, this.#publicKey, this.#keyObject);
  }

  equals(other: Recipient): boolean {
    return other instanceof X25519Recipient && other.#publicKey.equals(this.#publicKey);
  }

  /** `age1...` */
  toString(): string {
    return this.#encoded;
  }

  toJSON(): string {
    return this.#encoded;
  }

  [inspect.custom](): string {
    return `X25519Recipient(${this.#encoded})`;
  }
}

/** The secret side: unwraps what was encrypted to its recipient. */
export class X25519Identity implements Identity {
  readonly type = X25519_STANZA_TYPE;
  readonly recipient: X25519Recipient;
  readonly #secret: Buffer;
  readonly #privateKey: KeyObject;
  readonly #publicKey: Buffer;

  /** From the raw 32-byte secret (any 32 bytes; X25519 clamps). */
  constructor(secret: Uint8Array) {
    if (secret.length !== X25519_KEY_BYTES) {
      throw invalidArgument(`an X25519 identity is ${X25519_KEY_BYTES} bytes, got ${secret.length}`);
    }
    this.#secret = Buffer.from(secret);
    this.#privateKey = x25519PrivateKey(this.#secret);
    this.#publicKey = rawPublicKey(this.#privateKey);
    this.recipient = new X25519Recipient(this.#publicKey);
  }

  /** The secret key text, `AGE-SECRET-KEY-1...`, as `age-keygen` writes it. Keep it secret. */
  encode(): string {
    return bech32.encode(IDENTITY_HRP, bech32.toWords(this.#secret), false).toUpperCase();
  }

  unwrapStanza(stanza: Stanza): Buffer | undefined {
    return unwrapX25519(stanza, this.#privateKey, this.#publicKey);
  }

  /** Never the secret: the recipient it belongs to. */
  toString(): string {
    return `X25519Identity(${this.recipient.toString()})`;
  }

  toJSON(): { type: string; recipient: string } {
    return { type: this.type, recipient: this.recipient.toString() };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** A new random identity. */
export function generateIdentity(): X25519Identity {
  return new X25519Identity(randomBytes(X25519_KEY_BYTES));
}

/** The recipient (public key) of an identity, parsed or not. */
export function recipientOf(identity: X25519Identity | string): X25519Recipient {
  return (typeof identity === 'string' ? parseIdentity(identity) : identity).recipient;
}

/**
 * `AGE-SECRET-KEY-1...` → identity. Surrounding whitespace is ignored (values read from files and
 * environment variables often end with a newline). Throws `invalid_argument` with a message that
 * never repeats the input.
 */
export function parseIdentity(text: string): X25519Identity {
  const trimmed = text.trim();
  if (trimmed.toLowerCase().startsWith(`${RECIPIENT_HRP}1`)) {
    throw invalidArgument('expected an age identity (AGE-SECRET-KEY-1...), got a recipient (age1..., the public key)');
  }
  const bytes = decodeBech32(trimmed, IDENTITY_HRP, 'an age identity (AGE-SECRET-KEY-1...)');
  return new X25519Identity(bytes);
}

/** `age1...` → recipient. Throws `invalid_argument`. */
export function parseRecipient(text: string): X25519Recipient {
  const trimmed = text.trim();
  if (trimmed.toLowerCase().startsWith(IDENTITY_HRP)) {
    throw invalidArgument('expected an age recipient (age1...), got an identity (AGE-SECRET-KEY-1..., the secret key)');
  }
  return new X25519Recipient(decodeBech32(trimmed, RECIPIENT_HRP, 'an age recipient (age1...)'));
}

/** Is `text` a well-formed identity? (For validation messages; `parseIdentity` says why not.) */
export function isIdentity(text: string): boolean {
  return succeeds(() => parseIdentity(text));
}

/** Is `text` a well-formed recipient? */
export function isRecipient(text: string): boolean {
  return succeeds(() => parseRecipient(text));
}

/**
 * A key file as `age-keygen` writes it (and `age -i` reads it): `#` comment lines, blank lines,
 * and one identity per line. At least one identity is required.
 */
export function parseIdentityFile(text: string): X25519Identity[] {
  return parseLines(text, 'identity', (line, number) => withLine(number, () => parseIdentity(line)));
}

/** A recipients file as `age -R` reads it: `#` comments, blank lines, one recipient per line. */
export function parseRecipientsFile(text: string): X25519Recipient[] {
  return parseLines(text, 'recipient', (line, number) => withLine(number, () => parseRecipient(line)));
}

/** The key-file text `age-keygen` would write for this identity. */
export function formatIdentityFile(identity: X25519Identity, created: Date = new Date()): string {
  const stamp = created.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `# created: ${stamp}\n# public key: ${identity.recipient.toString()}\n${identity.encode()}\n`;
}

function decodeBech32(text: string, hrp: string, what: string): Uint8Array {
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(text, false);
  } catch {
    // The Bech32 library's messages quote the input, which may be a secret: say what, not where.
    throw invalidArgument(`not ${what}: invalid Bech32 (checksum, characters, mixed case or length)`);
  }
  if (decoded.prefix.toLowerCase() !== hrp) throw invalidArgument(`not ${what}: wrong prefix '${decoded.prefix}'`);
  let bytes: Uint8Array;
  try {
    bytes = bech32.fromWords(decoded.words);
  } catch {
    throw invalidArgument(`not ${what}: invalid Bech32 data`);
  }
  if (bytes.length !== X25519_KEY_BYTES) throw invalidArgument(`not ${what}: ${bytes.length} bytes, expected ${X25519_KEY_BYTES}`);
  return bytes;
}

function parseLines<T>(text: string, what: string, parse: (line: string, number: number) => T): T[] {
  const found: T[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    found.push(parse(line, index + 1));
  });
  if (found.length === 0) throw invalidArgument(`no ${what} found (only comments and blank lines)`);
  return found;
}

function withLine<T>(number: number, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof Error) err.message = `line ${number}: ${err.message}`;
    throw err;
  }
}

function succeeds(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}

let probe: KeyObject | undefined;
/** A throwaway private key, to test recipients for low order (X25519 with it gives zero iff low order). */
function probeKey(): KeyObject {
  probe ??= generateKeyPairSync('x25519').privateKey;
  return probe;
}

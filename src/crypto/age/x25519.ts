/**
 * The X25519 recipient stanza (age spec, "The X25519 recipient type"):
 *
 *   -> X25519 base64(ephemeral share)
 *   base64(ChaCha20-Poly1305(wrap key, nonce = 12 zero bytes, file key))
 *
 *   wrap key = HKDF-SHA-256(ikm = X25519(secret, peer), salt = ephemeral share ‖ recipient,
 *                           info = "age-encryption.org/v1/X25519")
 *
 * X25519 runs in OpenSSL through node:crypto. Raw 32-byte keys go in and out through the fixed
 * DER prefixes of PKCS#8 and SPKI for the X25519 OID (1.3.101.110), which is all those
 * structures hold for this curve.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import { decodeBase64Raw, encodeBase64Raw } from './encoding.ts';
import { AgeDecryptionError } from './errors.ts';
import type { Stanza } from './types.ts';

export const X25519_STANZA_TYPE = 'X25519';
export const X25519_KEY_BYTES = 32;
export const FILE_KEY_BYTES = 16;
const TAG_BYTES = 16;
const WRAP_INFO = 'age-encryption.org/v1/X25519';
const ZERO_NONCE = Buffer.alloc(12);

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export function x25519PrivateKey(secret: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
}

export function x25519PublicKey(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** The raw 32-byte u-coordinate of a public (or the public half of a private) X25519 key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

/**
 * X25519(private, public), or undefined when the result is all zeros (the peer is a low-order
 * point). OpenSSL refuses to derive in that case; the zero check covers any build that does not.
 */
export function sharedSecret(privateKey: KeyObject, publicKey: KeyObject): Buffer | undefined {
  let secret: Buffer;
  try {
    secret = diffieHellman({ privateKey, publicKey });
  } catch {
    return undefined;
  }
  return secret.every((byte) => byte === 0) ? undefined : secret;
}

function wrapKey(secret: Buffer, ephemeralShare: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.concat([ephemeralShare, recipient]), WRAP_INFO, 32));
}

/** A new X25519 stanza wrapping `fileKey` for the recipient whose raw public key is `recipient`. */
export function wrapX25519(fileKey: Buffer, recipient: Buffer, recipientKey: KeyObject): Stanza {
  const ephemeral = generateKeyPairSync('x25519');
  const share = rawPublicKey(ephemeral.publicKey);
  const secret = sharedSecret(ephemeral.privateKey, recipientKey);
  // Recipients are checked for low order when parsed (keys.ts), so this cannot happen.
  if (secret === undefined) throw new Error('X25519 recipient is a low-order point');
  const cipher = createCipheriv('chacha20-poly1305', wrapKey(secret, share, recipient), ZERO_NONCE, { authTagLength: TAG_BYTES });
  const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
  return { type: X25519_STANZA_TYPE, args: [encodeBase64Raw(share)], body };
}

/**
 * The file key from an X25519 stanza for the identity (`privateKey`, raw public `recipient`);
 * undefined for other stanza types and for stanzas wrapped to another key. Malformed X25519
 * stanzas are rejected, as the spec requires, before any decryption is attempted.
 */
export function unwrapX25519(stanza: Stanza, privateKey: KeyObject, recipient: Buffer): Buffer | undefined {
  if (stanza.type !== X25519_STANZA_TYPE) return undefined;
  if (stanza.args.length !== 1) {
    throw new AgeDecryptionError('malformed_header', `X25519 stanza has ${stanza.args.length + 1} arguments, expected 2`);
  }
  const share = decodeBase64Raw(stanza.args[0] ?? '');
  if (share === undefined || share.length !== X25519_KEY_BYTES) {
    throw new AgeDecryptionError('malformed_header', 'X25519 stanza share is not the canonical base64 of 32 bytes');
  }
  // Checked before decrypting, against partitioning oracles.
  if (stanza.body.length !== FILE_KEY_BYTES + TAG_BYTES) {
    throw new AgeDecryptionError('malformed_header', `X25519 stanza body is ${stanza.body.length} bytes, expected ${FILE_KEY_BYTES + TAG_BYTES}`);
  }
  const secret = sharedSecret(privateKey, x25519PublicKey(share));
  if (secret === undefined) throw new AgeDecryptionError('malformed_header', 'X25519 stanza share is a low-order point');
  const decipher = createDecipheriv('chacha20-poly1305', wrapKey(secret, share, recipient), ZERO_NONCE, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(stanza.body.subarray(FILE_KEY_BYTES));
  const fileKey = decipher.update(stanza.body.subarray(0, FILE_KEY_BYTES));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return fileKey;
}

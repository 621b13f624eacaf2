/**
 * The two base64 dialects of age, both strict: the header uses standard base64 without padding
 * (RFC 4648 §4, canonical per §3.5), the ASCII armor standard base64 with padding. Node's
 * decoder is lenient (it skips junk and ignores non-zero trailing bits), so every decode here
 * checks the alphabet first and re-encodes to prove the text was canonical.
 */

const UNPADDED = /^[A-Za-z0-9+/]*$/;
const PADDED = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 without `=` padding, as in age headers. */
export function encodeBase64Raw(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return pad === 0 ? text : text.slice(0, -pad);
}

/** Decodes canonical unpadded base64; undefined for anything else (padding, junk, stray bits). */
export function decodeBase64Raw(text: string): Buffer | undefined {
  if (!UNPADDED.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return encodeBase64Raw(bytes) === text ? bytes : undefined;
}

/** Decodes canonical padded base64 (length a multiple of 4); undefined for anything else. */
export function decodeBase64Padded(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !PADDED.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * The age header (spec, "Header"): a version line, one or more recipient stanzas, and a MAC.
 *
 *   age-encryption.org/v1
 *   -> X25519 <base64 share>
 *   <base64 body, 64 columns per line, last line shorter (maybe empty)>
 *   --- <base64 HMAC-SHA-256(HKDF(file key, "header"), everything up to and including "---")>
 *
 * Parsing is as strict as the spec's grammar: LF line endings only, arguments of VCHARs, canonical
 * unpadded base64, body lines of exactly 64 columns until one shorter ends the stanza, at least one
 * stanza, and the MAC line exactly `--- ` + 43 base64 characters. Unknown stanza types parse and
 * are skipped when unwrapping. The MAC is computed over the bytes as stored, never a re-encoding.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { decodeBase64Raw, encodeBase64Raw } from './encoding.ts';
import { AgeDecryptionError, invalidArgument } from './errors.ts';
import type { Identity, Recipient, Stanza } from './types.ts';
import { FILE_KEY_BYTES } from './x25519.ts';

export const VERSION_LINE = 'age-encryption.org/v1';
const VERSION_PREFIX = 'age-encryption.org/';
const MAC_BYTES = 32;
const MAC_LINE_LENGTH = 4 + 43;
const COLUMNS = 64;
const VCHARS = /^[\x21-\x7e]+$/;
const BASE64_CHARS = /^[A-Za-z0-9+/]*$/;

/** Default bound on a header's size, so that a stream that never ends its header cannot grow memory. */
export const MAX_HEADER_BYTES = 1024 * 1024;

export interface AgeHeader {
  readonly stanzas: readonly Stanza[];
  readonly mac: Buffer;
  /** The header exactly as stored, from the version line to the MAC line's LF. */
  readonly bytes: Buffer;
  /** Length of the MAC's input: the header up to and including `---`. */
  readonly macInputLength: number;
}

export interface HeaderRead {
  readonly header: AgeHeader;
  /** Bytes the header occupies at the start of the file; the payload (nonce first) starts here. */
  readonly headerLength: number;
  /** Bytes read past the header (the start of the payload). For a stream, it continues after them. */
  readonly rest: Buffer;
}

export interface HeaderOptions {
  /** Longest header accepted, in bytes (default `MAX_HEADER_BYTES`). */
  readonly maxHeaderBytes?: number;
}

/**
 * Parses the header at the start of `bytes`, or returns undefined if `bytes` ends before the
 * header does. Throws `AgeDecryptionError('malformed_header')` as soon as the bytes seen cannot
 * start a valid header, so a stream that is not an age file fails on its first bytes.
 */
export function scanHeader(bytes: Buffer, maxHeaderBytes = MAX_HEADER_BYTES): { header: AgeHeader; headerLength: number } | undefined {
  // The parser stops at the first line starting with `---`, so it never needs the bytes after it
  // (a whole file may be passed in). latin1 maps bytes to characters one to one.
  const limit = Math.min(bytes.length, maxHeaderBytes + 1);
  const macLine = bytes.indexOf('\n---');
  const macEnd = macLine === -1 || macLine >= limit ? -1 : bytes.indexOf(0x0a, macLine + 1);
  const text = bytes.toString('latin1', 0, macEnd === -1 ? limit : Math.min(macEnd + 1, limit));
  const found = scanText(text);
  if (found === undefined) {
    if (text.length > maxHeaderBytes) throw malformed(`header is longer than ${maxHeaderBytes} bytes`);
    return undefined;
  }
  const headerBytes = Buffer.from(bytes.subarray(0, found.length));
  return {
    header: { stanzas: found.stanzas, mac: found.mac, bytes: headerBytes, macInputLength: found.macInputLength },
    headerLength: found.length,
  };
}

/** Parses the header at the start of a buffer. Throws `truncated` if the buffer ends inside it. */
export function parseHeader(bytes: Uint8Array, options: HeaderOptions = {}): HeaderRead {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = scanHeader(buffer, options.maxHeaderBytes);
  if (found === undefined) throw truncatedHeader(buffer.length);
  return { ...found, rest: buffer.subarray(found.headerLength) };
}

/**
 * Reads the header from a buffer or from the first bytes of a stream. A stream is read (in paused
 * mode, `read()`) only as far as the chunk holding the header's end; what that chunk holds past
 * the header is `rest`, and the stream goes on after it. The stream is not consumed further,
 * destroyed or ended.
 */
export async function readHeader(source: Uint8Array | Readable, options: HeaderOptions = {}): Promise<HeaderRead> {
  if (source instanceof Uint8Array) return parseHeader(source, options);
  const chunks: Buffer[] = [];
  let length = 0;
  for (;;) {
    const chunk = await nextChunk(source);
    if (chunk === undefined) throw truncatedHeader(length);
    chunks.push(chunk);
    length += chunk.length;
    const joined = chunks.length === 1 ? chunk : Buffer.concat(chunks, length);
    const found = scanHeader(joined, options.maxHeaderBytes);
    if (found !== undefined) return { ...found, rest: joined.subarray(found.headerLength) };
  }
}

/** Serialises a header for `stanzas`, MACed with `fileKey`. */
export function serializeHeader(fileKey: Buffer, stanzas: readonly Stanza[]): Buffer {
  if (stanzas.length === 0) throw invalidArgument('an age header needs at least one recipient');
  let text = `${VERSION_LINE}\n`;
  for (const stanza of stanzas) text += serializeStanza(stanza);
  text += '---';
  const mac = headerMac(fileKey, Buffer.from(text, 'latin1'));
  return Buffer.from(`${text} ${encodeBase64Raw(mac)}\n`, 'latin1');
}

/** A new header wrapping `fileKey` for every recipient. */
export function encodeHeader(fileKey: Buffer, recipients: readonly Recipient[]): Buffer {
  checkFileKey(fileKey);
  if (recipients.length === 0) throw invalidArgument('an age file needs at least one recipient');
  return serializeHeader(fileKey, recipients.map((recipient) => recipient.wrap(fileKey)));
}

/**
 * The file key, unwrapped by the first identity that matches a stanza, after checking the
 * header MAC with it. Throws `no_identity_matched`, `header_mac_mismatch` or `malformed_header`.
 */
export function unwrapFileKey(header: AgeHeader, identities: readonly Identity[]): Buffer {
  if (identities.length === 0) throw invalidArgument('at least one identity is needed to decrypt');
  // Spec: an scrypt stanza must be alone, so a passphrase file cannot be silently shared.
  if (header.stanzas.length > 1 && header.stanzas.some((stanza) => stanza.type === 'scrypt')) {
    throw malformed('an scrypt stanza must be the only stanza in the header');
  }
  for (const identity of identities) {
    for (const stanza of header.stanzas) {
      const fileKey = identity.unwrapStanza(stanza);
      if (fileKey === undefined) continue;
      const expected = headerMac(fileKey, header.bytes.subarray(0, header.macInputLength));
      if (!timingSafeEqual(expected, header.mac)) {
        throw new AgeDecryptionError('header_mac_mismatch', 'header MAC mismatch: the header was modified');
      }
      return fileKey;
    }
  }
  const types = [...new Set(header.stanzas.map((stanza) => stanza.type))].join(', ');
  throw new AgeDecryptionError(
    'no_identity_matched',
    `no identity matched any of the file's ${header.stanzas.length} recipient stanza(s) (${types}): wrong key, or another location's key`,
    { stanzas: header.stanzas.length },
  );
}

/**
 * Re-wraps the file key of `headerBytes` (a header, possibly followed by more bytes, which are
 * ignored) for `newRecipients`, after unwrapping it with `identities`. The new header replaces
 * the old one in front of the unchanged payload: key rotation and moves never touch the payload.
 */
export function rewrapHeader(headerBytes: Uint8Array, identities: readonly Identity[], newRecipients: readonly Recipient[]): Buffer {
  const { header } = parseHeader(headerBytes);
  return encodeHeader(unwrapFileKey(header, identities), newRecipients);
}

export function headerMac(fileKey: Buffer, macInput: Buffer): Buffer {
  const key = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  return createHmac('sha256', key).update(macInput).digest();
}

export function checkFileKey(fileKey: Buffer): void {
  if (fileKey.length !== FILE_KEY_BYTES) throw invalidArgument(`a file key is ${FILE_KEY_BYTES} bytes, got ${fileKey.length}`);
}

function serializeStanza(stanza: Stanza): string {
  const args = [stanza.type, ...stanza.args];
  if (!args.every((arg) => VCHARS.test(arg))) throw invalidArgument('stanza arguments must be non-empty printable ASCII without spaces');
  const body = encodeBase64Raw(stanza.body);
  let text = `-> ${args.join(' ')}\n`;
  // Full 64-column lines, then always a shorter final line, empty if the body fills its last line.
  let offset = 0;
  for (; offset + COLUMNS <= body.length; offset += COLUMNS) text += `${body.slice(offset, offset + COLUMNS)}\n`;
  return `${text}${body.slice(offset)}\n`;
}

interface Scanned {
  readonly stanzas: Stanza[];
  readonly mac: Buffer;
  readonly macInputLength: number;
  readonly length: number;
}

/** The parser proper; undefined when the text ends before the header does. */
function scanText(text: string): Scanned | undefined {
  let position = 0;
  /** The next LF-terminated line without its LF, or undefined (with `partial` set) at the end of the text. */
  let partial = '';
  const nextLine = (): string | undefined => {
    const end = text.indexOf('\n', position);
    if (end === -1) {
      partial = text.slice(position);
      return undefined;
    }
    const line = text.slice(position, end);
    position = end + 1;
    return line;
  };

  const version = nextLine();
  if (version === undefined) {
    // Reject early what cannot become the version line.
    const expected = `${VERSION_LINE}`;
    if (!(expected.startsWith(partial) || (partial.startsWith(VERSION_PREFIX) && partial.length <= 256))) {
      throw malformed(partial.startsWith(VERSION_PREFIX) ? 'unsupported age version' : 'not an age file (no age-encryption.org/v1 line)');
    }
    return undefined;
  }
  if (version !== VERSION_LINE) {
    throw malformed(version.startsWith(VERSION_PREFIX) ? `unsupported age version '${printable(version)}'` : 'not an age file (no age-encryption.org/v1 line)');
  }

  const stanzas: Stanza[] = [];
  for (;;) {
    const lineStart = position;
    const line = nextLine();
    if (line === undefined) {
      if (partial.startsWith('---') && partial.length > MAC_LINE_LENGTH) throw malformed('MAC line is too long');
      return undefined;
    }
    if (line.startsWith('---')) {
      if (stanzas.length === 0) throw malformed('header has no recipient stanza');
      if (!line.startsWith('--- ') || line.length !== MAC_LINE_LENGTH) throw malformed('malformed MAC line');
      const mac = decodeBase64Raw(line.slice(4));
      if (mac === undefined || mac.length !== MAC_BYTES) throw malformed('MAC is not the canonical base64 of 32 bytes');
      return { stanzas, mac, macInputLength: lineStart + 3, length: position };
    }
    if (!line.startsWith('-> ')) throw malformed(`stanza ${stanzas.length + 1}: expected '-> ' or '--- ', got '${printable(line.slice(0, 16))}'`);
    const args = line.slice(3).split(' ');
    if (!args.every((arg) => VCHARS.test(arg))) {
      throw malformed(`stanza ${stanzas.length + 1}: arguments must be non-empty printable ASCII separated by single spaces`);
    }
    const body: Buffer[] = [];
    for (;;) {
      const bodyLine = nextLine();
      if (bodyLine === undefined) {
        if (partial.length > COLUMNS || !BASE64_CHARS.test(partial)) throw malformed(`stanza ${stanzas.length + 1}: malformed body line`);
        return undefined;
      }
      if (bodyLine.length > COLUMNS) throw malformed(`stanza ${stanzas.length + 1}: body line longer than ${COLUMNS} columns`);
      const decoded = decodeBase64Raw(bodyLine);
      if (decoded === undefined) throw malformed(`stanza ${stanzas.length + 1}: body is not canonical unpadded base64`);
      body.push(decoded);
      if (bodyLine.length < COLUMNS) break;
    }
    const [type, ...rest] = args as [string, ...string[]];
    stanzas.push({ type, args: rest, body: Buffer.concat(body) });
  }
}

async function nextChunk(stream: Readable): Promise<Buffer | undefined> {
  for (;;) {
    const chunk = stream.read() as Buffer | string | null;
    if (chunk !== null) return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (stream.readableEnded) return undefined;
    if (stream.errored) throw stream.errored;
    if (stream.destroyed) return undefined;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        cleanup();
        resolve();
      };
      const fail = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const cleanup = (): void => {
        stream.off('readable', done);
        stream.off('end', done);
        stream.off('close', done);
        stream.off('error', fail);
      };
      stream.on('readable', done);
      stream.on('end', done);
      stream.on('close', done);
      stream.on('error', fail);
    });
  }
}

function malformed(message: string): AgeDecryptionError {
  return new AgeDecryptionError('malformed_header', `malformed age header: ${message}`);
}

export function truncatedHeader(length: number): AgeDecryptionError {
  return new AgeDecryptionError('truncated', `truncated: the file ends inside the age header (after ${length} bytes)`, { part: 'header' });
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}

/**
 * Object keys as every provider accepts them. The limits are the intersection of S3, Azure Blob
 * and GCS rules: 1..1024 bytes of UTF-8, no control characters (GCS rejects CR/LF, Azure's XML
 * listings cannot carry C0 controls). Anything else, including `%`, `+`, spaces and unicode,
 * is stored verbatim.
 */
import { MovingDataError } from '../errors.ts';
import type { ListOrder } from './port.ts';

export const MAX_KEY_BYTES = 1024;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Returns a reason the key cannot be stored, or undefined when it can. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'key is empty';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) return `key is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`;
  if (CONTROL_CHARS.test(key)) return 'key contains a control character';
  if (!key.isWellFormed()) return 'key is not well-formed unicode';
  return undefined;
}

export function assertStorableKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new MovingDataError('invalid_key', problem, { details: { reason: problem } });
}

/** Compare keys in the byte order of their UTF-8 encoding (the order providers list in). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Compare keys by UTF-16 code units (JavaScript's default string order; Azure lists so). */
export function compareKeysUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function keyComparator(order: ListOrder | undefined): (a: string, b: string) => number {
  return order === 'utf16' ? compareKeysUtf16 : compareKeys;
}

const PATH_SEGMENT_MAX_BYTES = 255;

/**
 * Servers that store each object as a file named after its key (MinIO, fake-gcs-server's
 * filesystem backend) cannot hold keys with an empty path segment (`a//b`, `/a`, `a/`), a `.`
 * or `..` segment (MinIO also trims spaces and splits on `\\`), or a segment over 255 bytes
 * (NAME_MAX). Their adapters refuse such keys up front, naming `server` in the reason, rather
 * than letting the server fail or silently rename them. (Such servers also cannot list both
 * `a` and `a/b`; no check of one key can catch that.)
 */
export function filesystemKeyProblem(key: string, server: string): string | undefined {
  for (const segment of key.split('/')) {
    if (segment === '') return `${server} cannot store a key with an empty path segment (leading, trailing or double \`/\`)`;
    if (Buffer.byteLength(segment, 'utf8') > PATH_SEGMENT_MAX_BYTES) return `${server} cannot store a key with a path segment over ${PATH_SEGMENT_MAX_BYTES} bytes`;
    for (const part of segment.split('\\')) {
      const trimmed = part.trim();
      if (trimmed === '.' || trimmed === '..') return `${server} cannot store a key with a \`.\` or \`..\` path segment`;
    }
  }
  return undefined;
}

/**
 * Which file keys the API accepts. Stricter than what object stores allow: besides the port's
 * rules (UTF-8, no control characters, so no NUL; at most MAX_FILE_KEY_BYTES), no `.` or `..` path
 * segment — such keys mean different things to different tools (rclone, mc, browsers normalise
 * them) and are the usual path-traversal trick. Each refusal is `invalid_key` with the reason.
 */
import { MovingDataError } from '../errors.ts';
import { LONGEST_SUFFIX, OBJECT_SUFFIX_MAX_BYTES } from '../replication/object-names.ts';
import { MAX_KEY_BYTES, keyProblem } from '../storage/keys.ts';
import type { ObjectStore } from '../storage/port.ts';

/** Each version is stored as `<key>~v<n>.<random>` (object-names.ts): the suffix needs room. */
export const MAX_FILE_KEY_BYTES = MAX_KEY_BYTES - OBJECT_SUFFIX_MAX_BYTES;

export function fileKeyProblem(key: string): string | undefined {
  const basic = keyProblem(key);
  if (basic !== undefined) return basic;
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_FILE_KEY_BYTES) return `key is ${bytes} bytes; the limit is ${MAX_FILE_KEY_BYTES} (a version's object name adds up to ${OBJECT_SUFFIX_MAX_BYTES})`;
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) return 'key has a `.` or `..` path segment';
  return undefined;
}

/** Throws `invalid_key` when the key is refused by the API's rules or by the location's store. */
export function assertFileKey(key: string, store?: Pick<ObjectStore, 'keyProblem'>): void {
  const problem = fileKeyProblem(key) ?? store?.keyProblem?.(key) ?? store?.keyProblem?.(`${key}${LONGEST_SUFFIX}`);
  if (problem !== undefined) throw new MovingDataError('invalid_key', problem, { details: { reason: problem } });
}

/**
 * Which file keys the API accepts. Stricter than what object stores allow: besides the port's
 * rules (1..1024 bytes of UTF-8, no control characters, so no NUL), no `.` or `..` path
 * segment — such keys mean different things to different tools (rclone, mc, browsers normalise
 * them) and are the usual path-traversal trick. Each refusal is `invalid_key` with the reason.
 */
import { MovingDataError } from '../errors.ts';
import { keyProblem } from '../storage/keys.ts';
import type { ObjectStore } from '../storage/port.ts';

export function fileKeyProblem(key: string): string | undefined {
  const basic = keyProblem(key);
  if (basic !== undefined) return basic;
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) return 'key has a `.` or `..` path segment';
  return undefined;
}

/** Throws `invalid_key` when the key is refused by the API's rules or by the location's store. */
export function assertFileKey(key: string, store?: Pick<ObjectStore, 'keyProblem'>): void {
  const problem = fileKeyProblem(key) ?? store?.keyProblem?.(key);
  if (problem !== undefined) throw new MovingDataError('invalid_key', problem, { details: { reason: problem } });
}

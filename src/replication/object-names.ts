/**
 * Where a version's bytes live at a location: each version of a key under an object name of its
 * own, `<key>~v<version>.<12 hex>`, never over another version's object. A write stores its
 * object, then switches the metadata to it in one transaction, then removes the object it
 * superseded: two writers of one key never race on one object name, a reader always gets the
 * bytes of the version the metadata names, and a crash leaves at worst an object the metadata
 * accounts for (a `writing` replica) or can name as ours.
 *
 * The random part makes every write's name new (a retried copy, a key rotation's re-wrapped
 * object), so "write, then switch, then remove the old" holds for them too.
 *
 * Names stay readable with any tool (`rclone ls`, `aws s3 ls`): the key, then the version.
 */
import { randomBytes } from 'node:crypto';

/** `~v` + up to 10 digits + `.` + 12 hex digits. */
export const OBJECT_SUFFIX_MAX_BYTES = 2 + 10 + 1 + 12;

/** The longest suffix, for checking a key against a store's name rules before anything is written. */
export const LONGEST_SUFFIX = `~v${'9'.repeat(10)}.${'f'.repeat(12)}`;

const SUFFIX = /~v([1-9][0-9]{0,9})\.[0-9a-f]{12}$/;

/** A new object name for `version` of `key`. */
export function versionObjectKey(key: string, version: number): string {
  const { before, after } = versionObjectKeyParts(key);
  return `${before}${version}${after}`;
}

/** A new object name for a version of `key` not numbered yet: `before + version + after`. */
export function versionObjectKeyParts(key: string): { readonly before: string; readonly after: string } {
  return { before: `${key}~v`, after: `.${randomBytes(6).toString('hex')}` };
}

/** The key and version an object name of ours stands for, or undefined for any other name. */
export function parseVersionObjectKey(name: string): { readonly key: string; readonly version: number } | undefined {
  const match = SUFFIX.exec(name);
  if (match === null || match.index === 0) return undefined;
  return { key: name.slice(0, match.index), version: Number(match[1]) };
}

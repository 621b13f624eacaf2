/**
 * Opaque keyset cursors: the sort key of the last row returned, base64url-encoded JSON with a
 * tag naming the listing, so a cursor from one listing cannot be replayed against another.
 * Keyset (not OFFSET) so page N costs what page 1 costs and concurrent inserts do not shift rows.
 */
import { MovingDataError } from '../../errors.ts';

export type CursorTag = 'inventory' | 'location';

export function encodeCursor(tag: CursorTag, position: readonly [string, string]): string {
  return Buffer.from(JSON.stringify([tag, ...position]), 'utf8').toString('base64url');
}

export function decodeCursor(tag: CursorTag, cursor: string | undefined): readonly [string, string] | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    parsed[0] === tag &&
    typeof parsed[1] === 'string' &&
    typeof parsed[2] === 'string' &&
    /^\d{1,19}$/.test(parsed[2])
  ) {
    return [parsed[1], parsed[2]];
  }
  throw new MovingDataError('invalid_cursor', `not a valid ${tag} cursor`, { retryable: false });
}

/**
 * Cursors of listings ordered by id alone (jobs, oldest or newest first): the last id returned.
 * The inventory sorted by size or by last change uses them too (tag `inventory:<sort>:<order>`):
 * the next page starts after that file's row as it is then, so the cursor carries no size or
 * time, only the id of a file the caller was shown.
 */
export type IdCursorTag = 'jobs' | 'jobs-desc' | `inventory:${'size' | 'updated_at'}:${'asc' | 'desc'}` | `inventory:key:desc`;

export function encodeIdCursor(tag: IdCursorTag, id: string): string {
  return Buffer.from(JSON.stringify([tag, id]), 'utf8').toString('base64url');
}

export function decodeIdCursor(tag: IdCursorTag, cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === 2 && parsed[0] === tag && typeof parsed[1] === 'string' && /^\d{1,19}$/.test(parsed[1])) return parsed[1];
  throw new MovingDataError('invalid_cursor', `not a valid ${tag} cursor`, { retryable: false });
}

/**
 * `Range: bytes=...` for downloads (RFC 9110 §14). One range per request: a multi-range request
 * is answered with the whole object (the RFC lets a server ignore Range), which every client
 * handles; `multipart/byteranges` would buy nothing for object downloads.
 */
import { MovingDataError } from '../errors.ts';

export type RangeRequest = { readonly start: number; readonly end?: number } | { readonly suffix: number };

/**
 * Parse a Range header. Undefined when absent, not a bytes range, or several ranges (serve the
 * whole object); `range_not_satisfiable` for a syntactically valid but impossible range is left
 * to `resolveRange`, which knows the size.
 */
export function parseRange(header: string | undefined): RangeRequest | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*([^,]*)$/i.exec(header);
  if (!match) return undefined;
  const spec = match[1]!.trim();
  const suffix = /^-(\d{1,16})$/.exec(spec);
  if (suffix) return { suffix: Number(suffix[1]) };
  const bounded = /^(\d{1,16})-(\d{0,16})$/.exec(spec);
  if (!bounded) return undefined;
  const start = Number(bounded[1]);
  if (bounded[2] === '') return { start };
  const end = Number(bounded[2]);
  if (end < start) return undefined; // invalid syntax per RFC: ignore the header
  return { start, end };
}

/** Turn a parsed range into absolute inclusive bounds for an object of `size` bytes. */
export function resolveRange(range: RangeRequest, size: number): { start: number; end: number } {
  if ('suffix' in range) {
    if (range.suffix === 0 || size === 0) throw unsatisfiable(size);
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) throw unsatisfiable(size);
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

function unsatisfiable(size: number): MovingDataError {
  return new MovingDataError('range_not_satisfiable', `the requested range is outside the object's ${size} bytes`, { details: { size } });
}

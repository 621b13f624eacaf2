/**
 * Storage errors: one class, stable codes, a retryable flag (rclone's fserrors idea: classify
 * by what to do next). Each adapter maps its SDK's errors here in a `map-error.ts` of its own;
 * the network-level classification below is shared because every SDK surfaces Node's socket
 * errors the same way underneath.
 */
import { MovingDataError, type ErrorCode, isMovingDataError } from '../errors.ts';
import type { ProviderKind } from './port.ts';

export interface StorageErrorContext {
  readonly provider: ProviderKind;
  readonly location: string;
  readonly operation: string;
  readonly key?: string;
}

export class StorageError extends MovingDataError {
  readonly provider: ProviderKind;
  readonly location: string;
  readonly operation: string;
  readonly key: string | undefined;

  constructor(code: ErrorCode, message: string, context: StorageErrorContext, options: { retryable?: boolean; cause?: unknown } = {}) {
    const where = context.key === undefined ? context.location : `${context.location}:${context.key}`;
    super(code, `${context.operation} ${where}: ${message}`, {
      ...options,
      details: { provider: context.provider, location: context.location, operation: context.operation, ...(context.key === undefined ? {} : { key: context.key }) },
    });
    this.name = 'StorageError';
    this.provider = context.provider;
    this.location = context.location;
    this.operation = context.operation;
    this.key = context.key;
  }
}

export function isStorageError(err: unknown, code?: ErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

/** Node / undici / OpenSSL error codes that mean "could not talk to the server". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/**
 * True when `err` (or anything in its `cause` chain, or an AggregateError member) is a
 * network-level failure. SDKs wrap socket errors differently (AWS puts the code on the error,
 * Azure on RestError.code, gaxios in `cause`), so walk the chain instead of guessing a shape.
 */
export function isNetworkError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    const errno = (current as { errno?: unknown }).errno;
    if (typeof errno === 'string' && NETWORK_CODES.has(errno)) return true;
    queue.push((current as { cause?: unknown }).cause);
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  return false;
}

/** True when the error comes from an AbortSignal the caller fired. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR');
}

/** Map an HTTP status to a storage code, for SDK errors that carry nothing better. */
export function codeForHttpStatus(status: number | undefined): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_argument';
    case 401:
    case 403:
      return 'access_denied';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 412:
      return 'precondition_failed';
    case 416:
      return 'range_not_satisfiable';
    case 429:
      return 'throttled';
    case 500:
    case 502:
    case 503:
    case 504:
      return 'unavailable';
    default:
      return 'internal';
  }
}

/** Wrap an unknown failure as a StorageError, preserving an existing MovingDataError's code. */
export function toStorageError(err: unknown, context: StorageErrorContext, fallback: (err: unknown) => StorageError): StorageError {
  if (err instanceof StorageError) return err;
  if (isMovingDataError(err)) {
    return new StorageError(err.code, err.message, context, { retryable: err.retryable, cause: err });
  }
  if (isAbortError(err)) {
    return new StorageError('unavailable', 'aborted', context, { retryable: false, cause: err });
  }
  if (isNetworkError(err)) {
    const reason = err instanceof Error ? err.message : String(err);
    return new StorageError('unavailable', `cannot reach the server (${reason})`, context, { retryable: true, cause: err });
  }
  return fallback(err);
}

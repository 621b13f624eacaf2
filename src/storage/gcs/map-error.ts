/**
 * Google Cloud Storage errors → StorageError.
 *
 * The SDK surfaces failures in several shapes, depending on which of its transports made the
 * request:
 * - `ApiError` (JSON API calls through teeny-request): `code` is the HTTP status, `errors[]`
 *   carries `reason`s, `response.statusCode` is set;
 * - `GaxiosError` (resumable uploads, token refresh): `status` / `response.status`, and `code`
 *   is a string (`ECONNREFUSED`, `TimeoutError`) unless the API sent a numeric one;
 * - plain `Error`s the upload machinery builds itself (`Upload failed` with a numeric `code`,
 *   `Retry limit exceeded - status: 503 ...` with the status only in the message);
 * - `RequestError` with string codes for integrity failures (`FILE_NO_UPLOAD`,
 *   `CONTENT_DOWNLOAD_MISMATCH`);
 * - node-fetch `FetchError`s for socket failures, sometimes wrapped in a `cause`.
 * Socket failures and caller aborts are classified by the shared `toStorageError`.
 */
import type { ErrorCode } from '../../errors.ts';
import { StorageError, type StorageErrorContext, codeForHttpStatus, toStorageError } from '../errors.ts';

/** SDK integrity failures: the bytes stored or received are not the bytes sent. */
const CHECKSUM_CODES = new Set(['FILE_NO_UPLOAD', 'FILE_NO_UPLOAD_DELETE', 'CONTENT_DOWNLOAD_MISMATCH', 'MD5_NOT_AVAILABLE']);

/** OAuth token-endpoint errors (RFC 6749 §5.2): the credentials themselves are refused. */
const OAUTH_ERRORS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_scope', 'access_denied']);

/** `errors[].reason` values that mean "slow down" even when the status says 403. */
const THROTTLE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded']);

interface ErrorShape {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly status?: unknown;
  readonly name?: unknown;
  readonly errors?: unknown;
  readonly response?: { readonly status?: unknown; readonly statusCode?: unknown; readonly data?: unknown };
}

/** Map any failure of a GCS call to a StorageError with a stable code. */
export function mapGcsError(err: unknown, context: StorageErrorContext): StorageError {
  return toStorageError(err, context, (e) => fromSdkError(e, context));
}

function fromSdkError(err: unknown, context: StorageErrorContext): StorageError {
  const shape = (typeof err === 'object' && err !== null ? err : {}) as ErrorShape;
  const message = describe(err);

  if (typeof shape.code === 'string' && CHECKSUM_CODES.has(shape.code)) {
    return new StorageError('checksum_mismatch', message, context, { cause: err });
  }
  if (isCredentialFailure(shape, message)) {
    return new StorageError('access_denied', message, context, { retryable: false, cause: err });
  }
  if (shape.name === 'TimeoutError' || shape.code === 'TimeoutError') {
    return new StorageError('unavailable', `no answer in time (${message})`, context, { retryable: true, cause: err });
  }

  const status = httpStatus(shape) ?? statusInRetryMessage(message);
  if (status === undefined) {
    // The upload machinery gives up with "Retry limit exceeded" and no status when every attempt
    // failed below HTTP (the socket errors themselves are not kept).
    if (/^Retry (total time )?limit exceeded/.test(message)) {
      return new StorageError('unavailable', message, context, { retryable: true, cause: err });
    }
    return new StorageError('internal', message, context, { retryable: false, cause: err });
  }

  const code = codeForStatus(status, shape, message);
  const retryable = code === 'throttled' || code === 'unavailable';
  return new StorageError(code, `HTTP ${status}: ${message}`, context, { retryable, cause: err });
}

function codeForStatus(status: number, shape: ErrorShape, message: string): ErrorCode {
  if (reasons(shape).some((reason) => THROTTLE_REASONS.has(reason))) return 'throttled';
  if (status === 408 || status >= 500) return 'unavailable';
  // GCS answers 400 when a declared MD5 / CRC32C does not match the uploaded bytes.
  if (status === 400 && /doesn't match calculated|checksum mismatch|hash mismatch/i.test(message)) return 'checksum_mismatch';
  const code = codeForHttpStatus(status);
  return code === 'internal' && status >= 400 && status < 500 ? 'invalid_argument' : code;
}

function httpStatus(shape: ErrorShape): number | undefined {
  for (const value of [shape.code, shape.status, shape.response?.status, shape.response?.statusCode]) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 300 && value <= 599) return value;
    if (typeof value === 'string' && /^[3-5]\d\d$/.test(value)) return Number(value);
  }
  return undefined;
}

function statusInRetryMessage(message: string): number | undefined {
  const match = /^Retry (?:total time )?limit exceeded.*?\bstatus: ([3-5]\d\d)\b/s.exec(message);
  return match ? Number(match[1]) : undefined;
}

function reasons(shape: ErrorShape): string[] {
  if (!Array.isArray(shape.errors)) return [];
  return (shape.errors as unknown[]).flatMap((e) => {
    const reason = (e as { reason?: unknown } | null)?.reason;
    return typeof reason === 'string' ? [reason] : [];
  });
}

/** google-auth-library failures: no credentials found, or the token endpoint refused them. */
function isCredentialFailure(shape: ErrorShape, message: string): boolean {
  const data = shape.response?.data as { error?: unknown } | undefined;
  if (typeof data?.error === 'string' && OAUTH_ERRORS.has(data.error)) return true;
  return /Could not load the default credentials|Could not refresh access token|invalid_grant|Invalid JWT Signature/i.test(message);
}

function describe(err: unknown): string {
  const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  // ApiError messages can carry a whole HTML or XML error page; keep them one readable line.
  const line = (raw ?? '').replace(/\s+/g, ' ').trim();
  return line.length > 400 ? `${line.slice(0, 400)}…` : line || 'unknown error';
}

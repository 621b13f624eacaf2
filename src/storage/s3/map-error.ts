/**
 * AWS SDK v3 errors → StorageError. The SDK names a service error after the S3 error code
 * (`NoSuchKey`, `SlowDown`, ...); bodiless responses (HEAD) only carry a status, so the HTTP
 * status is the fallback. Socket-level failures are classified by the shared rules in
 * ../errors.ts before anything here runs.
 */
import type { ErrorCode } from '../../errors.ts';
import { codeForHttpStatus, StorageError, toStorageError, type StorageErrorContext } from '../errors.ts';

interface SdkErrorShape {
  readonly name?: unknown;
  readonly Code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

interface Classification {
  readonly code: ErrorCode;
  readonly retryable?: boolean;
  readonly message?: string;
}

const BY_NAME: Readonly<Record<string, Classification>> = {
  NoSuchKey: { code: 'not_found', message: 'no such object' },
  NotFound: { code: 'not_found', message: 'not found' },
  NoSuchBucket: { code: 'not_found', message: 'no such bucket' },
  NoSuchUpload: { code: 'not_found', message: 'no such multipart upload' },
  NoSuchVersion: { code: 'not_found', message: 'no such object version' },

  // Credentials the server rejects: retrying with the same ones cannot help.
  AccessDenied: { code: 'access_denied', retryable: false },
  Forbidden: { code: 'access_denied', retryable: false },
  AllAccessDisabled: { code: 'access_denied', retryable: false },
  AccountProblem: { code: 'access_denied', retryable: false },
  InvalidAccessKeyId: { code: 'access_denied', retryable: false },
  SignatureDoesNotMatch: { code: 'access_denied', retryable: false },
  InvalidToken: { code: 'access_denied', retryable: false },
  ExpiredToken: { code: 'access_denied', retryable: false },
  TokenRefreshRequired: { code: 'access_denied', retryable: false },
  InvalidSecurity: { code: 'access_denied', retryable: false },
  RequestTimeTooSkewed: { code: 'access_denied', retryable: false, message: 'the clock of this machine is too far from the server’s' },
  // No credentials anywhere in the default chain (env, profile, SSO, IMDS, ...).
  CredentialsProviderError: { code: 'access_denied', retryable: false, message: 'no AWS credentials found in the default provider chain' },

  SlowDown: { code: 'throttled', retryable: true },
  Throttling: { code: 'throttled', retryable: true },
  ThrottlingException: { code: 'throttled', retryable: true },
  TooManyRequestsException: { code: 'throttled', retryable: true },
  RequestLimitExceeded: { code: 'throttled', retryable: true },
  ServiceUnavailable: { code: 'throttled', retryable: true },

  InternalError: { code: 'unavailable', retryable: true },
  RequestTimeout: { code: 'unavailable', retryable: true },
  TimeoutError: { code: 'unavailable', retryable: true, message: 'the server did not answer in time' },
  XMinioServerNotInitialized: { code: 'unavailable', retryable: true },

  InvalidRange: { code: 'range_not_satisfiable', retryable: false },
  PreconditionFailed: { code: 'precondition_failed', retryable: false },
  // Reading or copying an archived (Glacier / Deep Archive) object before it is restored.
  InvalidObjectState: { code: 'precondition_failed', retryable: false, message: 'the object is archived; restore it first' },

  InvalidStorageClass: { code: 'invalid_argument', retryable: false },
  InvalidArgument: { code: 'invalid_argument', retryable: false },
  InvalidRequest: { code: 'invalid_argument', retryable: false },
  InvalidBucketName: { code: 'invalid_argument', retryable: false },
  AuthorizationHeaderMalformed: { code: 'invalid_argument', retryable: false, message: 'the request was signed for another region' },
  PermanentRedirect: { code: 'invalid_argument', retryable: false, message: 'the bucket lives in another region' },
  EntityTooSmall: { code: 'invalid_argument', retryable: false },
  IncompleteBody: { code: 'invalid_argument', retryable: false },
  EntityTooLarge: { code: 'too_large', retryable: false },
  KeyTooLongError: { code: 'invalid_key', retryable: false },
  XMinioInvalidObjectName: { code: 'invalid_key', retryable: false },
  XMinioInvalidResourceName: { code: 'invalid_key', retryable: false },

  BadDigest: { code: 'checksum_mismatch', retryable: false },
  InvalidDigest: { code: 'checksum_mismatch', retryable: false },
  XAmzContentChecksumMismatch: { code: 'checksum_mismatch', retryable: false },
  XAmzContentSHA256Mismatch: { code: 'checksum_mismatch', retryable: false },

  BucketAlreadyExists: { code: 'conflict', retryable: false, message: 'the bucket name is taken by another account' },
  BucketNotEmpty: { code: 'conflict', retryable: false },
  OperationAborted: { code: 'conflict', retryable: true },
};

function errorName(err: SdkErrorShape): string | undefined {
  if (typeof err.Code === 'string' && err.Code !== '') return err.Code;
  if (typeof err.name === 'string' && err.name !== '' && err.name !== 'Error' && err.name !== 'Unknown') return err.name;
  return undefined;
}

/** KMS failures surface as S3 errors named `KMS.*` (AWS) or `kms:*` (MinIO). */
function classifyKms(name: string): Classification | undefined {
  if (!name.startsWith('KMS.') && !name.startsWith('kms:')) return undefined;
  if (/throttl/i.test(name)) return { code: 'throttled', retryable: true };
  if (/accessdenied/i.test(name)) return { code: 'access_denied', retryable: false };
  // Unknown, disabled or pending-deletion keys are configuration problems, not missing objects.
  return { code: 'invalid_argument', retryable: false, message: 'the KMS key cannot be used' };
}

function classify(err: unknown): Classification {
  const shape = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = errorName(shape);
  if (name !== undefined) {
    const known = BY_NAME[name] ?? classifyKms(name);
    if (known !== undefined) return known;
  }
  if (typeof shape.message === 'string' && shape.message.startsWith('Checksum mismatch')) {
    // The SDK's own verification of a downloaded body against the object's checksum.
    return { code: 'checksum_mismatch', retryable: true };
  }
  const status = shape.$metadata?.httpStatusCode;
  if (status === 503) return { code: 'throttled', retryable: true };
  if (status === 301 || status === 307) return { code: 'invalid_argument', retryable: false, message: 'the bucket lives in another region' };
  return { code: codeForHttpStatus(status) };
}

function describe(err: unknown, fallback: string | undefined): string {
  const shape = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = errorName(shape);
  const status = shape.$metadata?.httpStatusCode;
  const raw = typeof shape.message === 'string' ? shape.message : String(err);
  // Bodiless responses come back as "UnknownError"; the status says more.
  const message = raw === '' || raw === 'UnknownError' ? (fallback ?? 'request failed') : raw;
  const tags = [name, status === undefined ? undefined : `HTTP ${status}`].filter((t) => t !== undefined);
  return tags.length === 0 ? message : `${message} (${tags.join(', ')})`;
}

/** Classify an SDK error that is not a network failure. */
export function mapS3Error(err: unknown, context: StorageErrorContext): StorageError {
  const found = classify(err);
  const options = found.retryable === undefined ? { cause: err } : { cause: err, retryable: found.retryable };
  return new StorageError(found.code, describe(err, found.message), context, options);
}

/** Any failure of an S3 operation as a StorageError (network, abort, ours, or the SDK's). */
export function toS3StorageError(err: unknown, context: StorageErrorContext): StorageError {
  return toStorageError(err, context, (e) => mapS3Error(e, context));
}

/**
 * Azure Blob errors → StorageError. The service names the failure in `x-ms-error-code` (the SDK
 * puts it in `RestError.details.errorCode`; HEAD responses have no body, so the header is all
 * there is), which says more than the status: a 409 may be a lease, an archived blob or a
 * container being deleted; a 503 may be throttling or an outage.
 * https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes
 */
import { isRestError } from '@azure/storage-blob';
import type { ErrorCode } from '../../errors.ts';
import { StorageError, type StorageErrorContext, codeForHttpStatus, isAbortError, toStorageError } from '../errors.ts';

interface Mapped {
  readonly code: ErrorCode;
  readonly retryable?: boolean;
  readonly message?: string;
}

/** Service error codes whose meaning the status alone does not carry. */
const BY_SERVICE_CODE: Readonly<Record<string, Mapped>> = {
  BlobNotFound: { code: 'not_found', message: 'no such object' },
  ContainerNotFound: { code: 'not_found', message: 'no such container' },
  ResourceNotFound: { code: 'not_found' },
  CannotVerifyCopySource: { code: 'not_found', message: 'copy source is missing or unreadable' },
  AuthenticationFailed: { code: 'access_denied', retryable: false, message: 'the credentials were not accepted' },
  AuthorizationFailure: { code: 'access_denied', retryable: false, message: 'the credentials do not allow this' },
  AuthorizationPermissionMismatch: { code: 'access_denied', retryable: false },
  AuthorizationResourceTypeMismatch: { code: 'access_denied', retryable: false },
  AuthorizationServiceMismatch: { code: 'access_denied', retryable: false },
  AuthorizationProtocolMismatch: { code: 'access_denied', retryable: false },
  AuthorizationSourceIPMismatch: { code: 'access_denied', retryable: false },
  InsufficientAccountPermissions: { code: 'access_denied', retryable: false },
  KeyBasedAuthenticationNotPermitted: { code: 'access_denied', retryable: false },
  NoAuthenticationInformation: { code: 'access_denied', retryable: false },
  AccountIsDisabled: { code: 'access_denied', retryable: false },
  ServerBusy: { code: 'throttled', retryable: true },
  OperationTimedOut: { code: 'unavailable', retryable: true },
  InternalError: { code: 'unavailable', retryable: true },
  InvalidRange: { code: 'range_not_satisfiable', retryable: false },
  Md5Mismatch: { code: 'checksum_mismatch', retryable: true, message: 'the bytes received differ from the MD5 sent with them' },
  Crc64Mismatch: { code: 'checksum_mismatch', retryable: true },
  ConditionNotMet: { code: 'precondition_failed' },
  TargetConditionNotMet: { code: 'precondition_failed' },
  SourceConditionNotMet: { code: 'precondition_failed' },
  BlobArchived: { code: 'conflict', retryable: false, message: 'the object is in the Archive tier; rehydrate it (setTier) before reading' },
  BlobBeingRehydrated: { code: 'conflict', retryable: true, message: 'the object is being rehydrated from the Archive tier' },
  // Another writer committed the same blob and the service discarded our uncommitted blocks:
  // the whole put may be tried again.
  InvalidBlockList: { code: 'conflict', retryable: true, message: 'the staged blocks were discarded (a concurrent write committed first)' },
  ContainerBeingDeleted: { code: 'conflict', retryable: true },
  ContainerAlreadyExists: { code: 'conflict', retryable: false },
  LeaseIdMissing: { code: 'conflict', retryable: false, message: 'the object is leased' },
  LeaseIdMismatchWithBlobOperation: { code: 'conflict', retryable: false, message: 'the object is leased' },
  RequestBodyTooLarge: { code: 'too_large', retryable: false },
  BlockCountExceedsLimit: { code: 'too_large', retryable: false },
  InvalidBlobTier: { code: 'invalid_argument', retryable: false },
  InvalidMetadata: { code: 'invalid_argument', retryable: false },
  InvalidHeaderValue: { code: 'invalid_argument', retryable: false },
  InvalidQueryParameterValue: { code: 'invalid_argument', retryable: false },
  InvalidResourceName: { code: 'invalid_argument', retryable: false },
  InvalidUri: { code: 'invalid_argument', retryable: false },
  OutOfRangeInput: { code: 'invalid_argument', retryable: false },
  FeatureNotSupportedForAccount: { code: 'unsupported', retryable: false },
};

/** Azure's error code for an error, from the response header/body or the transport. */
export function azureErrorCode(err: unknown): string | undefined {
  if (!isRestError(err)) return undefined;
  const fromService = (err.details as { errorCode?: unknown } | undefined)?.errorCode;
  if (typeof fromService === 'string' && fromService !== '') return fromService;
  return err.code;
}

/** The HTTP status of an SDK failure, when the server answered. */
export function azureStatus(err: unknown): number | undefined {
  return isRestError(err) ? err.statusCode : undefined;
}

/** Maps an SDK failure that is not an abort, a network error or one of ours. */
export function mapAzureError(err: unknown, context: StorageErrorContext): StorageError {
  // HEAD answers carry no body, so the SDK's message is empty: say what the status means.
  const message = (err instanceof Error ? err.message.split('\n')[0]! : String(err)) || 'the server refused the request';
  if (!isRestError(err)) return new StorageError('internal', message, context, { retryable: false, cause: err });

  const serviceCode = azureErrorCode(err);
  const known = serviceCode === undefined ? undefined : BY_SERVICE_CODE[serviceCode];
  const status = err.statusCode;
  const label = [status, serviceCode].filter((part) => part !== undefined).join(' ');
  if (known !== undefined) {
    return new StorageError(known.code, `${known.message ?? message} (${label})`, context, {
      ...(known.retryable === undefined ? {} : { retryable: known.retryable }),
      cause: err,
    });
  }
  // No status: the request never got an answer (REQUEST_SEND_ERROR and friends).
  if (status === undefined) {
    return new StorageError('unavailable', `cannot reach the server (${message})`, context, { retryable: true, cause: err });
  }
  const code = status === 408 ? 'unavailable' : codeForHttpStatus(status);
  return new StorageError(code, `${message} (${label})`, context, {
    ...(code === 'access_denied' ? { retryable: false } : {}),
    cause: err,
  });
}

/**
 * The adapter's single entry point for failures. An AbortError the caller did not ask for comes
 * from a per-try timeout (the transport aborts the request), so it is `unavailable` and may be
 * retried; the caller's own abort is final.
 */
export function toAzureStorageError(err: unknown, context: StorageErrorContext, callerSignal?: AbortSignal): StorageError {
  if (isAbortError(err) && callerSignal?.aborted !== true) {
    return new StorageError('unavailable', 'the server did not answer in time', context, { retryable: true, cause: err });
  }
  return toStorageError(err, context, (e) => mapAzureError(e, context));
}

import { ApiError } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../errors.ts';
import { mapGcsError } from './map-error.ts';

const context = { provider: 'gcs' as const, location: 'unit', operation: 'head', key: 'a/b' };

/** An ApiError as the SDK builds it from a JSON API error body (nodejs-common/util.js). */
function apiError(code: number, message: string, reason: string): ApiError {
  const body = { error: { code, message, errors: [{ message, domain: 'global', reason }] } };
  const err = new ApiError({ ...body.error, response: { statusCode: code, body: JSON.stringify(body) } as never });
  return Object.assign(err, { response: { statusCode: code, statusMessage: message, headers: {} } });
}

/** A GaxiosError-shaped failure of a resumable-upload request. */
function gaxiosError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { name: 'GaxiosError', ...fields });
}

describe('mapGcsError', () => {
  it('maps a real 401 (missing or invalid credentials) to access_denied, not retryable', () => {
    const err = mapGcsError(apiError(401, 'Anonymous caller does not have storage.objects.get access.', 'required'), context);
    expect(err).toBeInstanceOf(StorageError);
    expect(err.code).toBe('access_denied');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('HTTP 401');
    expect(err.key).toBe('a/b');
  });

  it('maps a real 403 (permission denied) to access_denied, not retryable', () => {
    const err = mapGcsError(apiError(403, 'sa@p.iam.gserviceaccount.com does not have storage.objects.create access', 'forbidden'), context);
    expect(err.code).toBe('access_denied');
    expect(err.retryable).toBe(false);
  });

  it('maps a 403 whose reason is a rate limit to throttled, retryable', () => {
    const err = mapGcsError(apiError(403, 'Rate limit exceeded', 'rateLimitExceeded'), context);
    expect(err.code).toBe('throttled');
    expect(err.retryable).toBe(true);
  });

  it('maps the other statuses by what to do next', () => {
    const cases: Array<[number, string, boolean]> = [
      [400, 'invalid_argument', false],
      [404, 'not_found', false],
      [408, 'unavailable', true],
      [409, 'conflict', false],
      [412, 'precondition_failed', false],
      [416, 'range_not_satisfiable', false],
      [429, 'throttled', true],
      [500, 'unavailable', true],
      [503, 'unavailable', true],
      [507, 'unavailable', true],
    ];
    for (const [status, code, retryable] of cases) {
      const err = mapGcsError(apiError(status, `status ${status}`, 'x'), context);
      expect([status, err.code, err.retryable]).toEqual([status, code, retryable]);
    }
  });

  it('reads the status of resumable-upload (gaxios) errors', () => {
    expect(mapGcsError(gaxiosError('Request failed with status code 403', { status: 403, code: 403, response: { status: 403 } }), context).code).toBe('access_denied');
    expect(mapGcsError(gaxiosError('Upload failed', { code: 503 }), context).code).toBe('unavailable');
    expect(mapGcsError(new Error('Retry limit exceeded - status: 429 - code: 429'), context).code).toBe('throttled');
    expect(mapGcsError(new Error('Retry limit exceeded - request to http://x failed'), context)).toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('maps socket errors, even nested in a cause, to unavailable, retryable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4443'), { code: 'ECONNREFUSED', errno: 'ECONNREFUSED' });
    const nested = gaxiosError('request to http://127.0.0.1:4443/upload failed', { cause: refused, code: 'ECONNREFUSED' });
    for (const err of [refused, nested, new Error('outer', { cause: new Error('middle', { cause: refused }) })]) {
      expect(mapGcsError(err, context)).toMatchObject({ code: 'unavailable', retryable: true });
    }
    expect(mapGcsError(gaxiosError('The operation was aborted due to timeout', { code: 'TimeoutError' }), context)).toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('maps integrity failures to checksum_mismatch', () => {
    const upload = Object.assign(new Error('The uploaded data did not match the data from the server.'), { code: 'FILE_NO_UPLOAD' });
    const download = Object.assign(new Error('The downloaded data did not match the data from the server.'), { code: 'CONTENT_DOWNLOAD_MISMATCH' });
    const declared = apiError(400, 'Provided MD5 hash "abc" doesn\'t match calculated MD5 hash "def".', 'invalid');
    for (const err of [upload, download, declared]) expect(mapGcsError(err, context).code).toBe('checksum_mismatch');
  });

  it('maps credentials the auth library cannot use to access_denied', () => {
    const missing = new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.');
    const refused = gaxiosError('invalid_grant: Invalid JWT Signature.', { status: 400, response: { status: 400, data: { error: 'invalid_grant' } } });
    for (const err of [missing, refused]) expect(mapGcsError(err, context)).toMatchObject({ code: 'access_denied', retryable: false });
  });

  it('keeps StorageErrors, and maps aborts and the unknown', () => {
    const existing = new StorageError('not_found', 'gone', context);
    expect(mapGcsError(existing, context)).toBe(existing);
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(mapGcsError(abort, context)).toMatchObject({ code: 'unavailable', retryable: false });
    expect(mapGcsError('something odd', context)).toMatchObject({ code: 'internal', retryable: false });
  });
});

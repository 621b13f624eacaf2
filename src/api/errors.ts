/**
 * The one place where error codes become HTTP statuses. Every error response has the same
 * shape: `{ error: { code, message, request_id, details? } }`. Unknown errors become a 500 with
 * code `internal` and no stack or internals (those go to the log, under the request id).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, isMovingDataError } from '../errors.ts';
import type { RouteMethods } from './contract.ts';

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  not_found: 404,
  access_denied: 403,
  conflict: 409,
  archived: 409,
  precondition_failed: 412,
  throttled: 429,
  unavailable: 503,
  invalid_argument: 400,
  invalid_key: 400,
  invalid_cursor: 400,
  unsupported: 501,
  checksum_mismatch: 502,
  range_not_satisfiable: 416,
  too_large: 413,
  config_invalid: 500,
  unauthenticated: 401,
  forbidden: 403,
  csrf_mismatch: 403,
  decryption_failed: 422,
  integrity_mismatch: 422,
  internal: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; request_id: string; details?: Record<string, unknown> };
}

/** Fastify's own client errors (bad JSON, body too large, ...) keep a stable code of ours. */
function fastifyClientCode(err: FastifyError): ErrorCode | undefined {
  // The object key is the path's wildcard: a key the route schema refuses is a bad key.
  if (err.validation) return err.validationContext === 'params' && err.validation.some((e) => e.instancePath === '/*') ? 'invalid_key' : 'invalid_argument';
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'too_large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'invalid_argument';
    default:
      return err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? 'invalid_argument' : undefined;
  }
}

export function registerErrorHandling(app: FastifyInstance, methods?: RouteMethods): void {
  /** No route: 405 with `Allow` where the path is served under other methods, else 404. */
  const noRoute = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = methods?.allowed(path) ?? [];
    if (allowed.length > 0) {
      const body: ErrorBody = { error: { code: 'invalid_argument', message: `${request.method} is not served at ${path}; use ${allowed.join(', ')}`, request_id: request.id } };
      return reply.status(405).header('allow', allowed.join(', ')).send(body);
    }
    const body: ErrorBody = { error: { code: 'not_found', message: `no route for ${request.method} ${path}`, request_id: request.id } };
    return reply.status(404).send(body);
  };

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // A method with a body and no route (QUERY, PATCH, ...) fails its body parsing first: the
    // answer is still about the route.
    if (request.is404) return noRoute(request, reply);
    let code: ErrorCode;
    let status: number;
    let message: string;
    let details: Record<string, unknown> | undefined;
    if (isMovingDataError(err)) {
      code = err.code;
      status = HTTP_STATUS[code];
      message = err.message;
      details = err.details;
    } else if (fastifyClientCode(err) !== undefined) {
      code = fastifyClientCode(err)!;
      status = code === 'invalid_argument' && err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : HTTP_STATUS[code];
      message = err.message;
    } else {
      code = 'internal';
      status = 500;
      message = 'internal error; the server log has the details under this request id';
    }
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code, message }, 'request rejected');
    if (isMovingDataError(err) && err.retryable && status === 503) void reply.header('retry-after', '1');
    const body: ErrorBody = { error: { code, message, request_id: request.id, ...(details === undefined ? {} : { details }) } };
    return reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => noRoute(request, reply));
}

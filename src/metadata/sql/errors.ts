/**
 * Driver errors -> MovingDataError. pg and PGlite both raise errors carrying the server's
 * SQLSTATE in `code`; pg also surfaces Node socket errors (ECONNREFUSED, ...) when the server
 * is unreachable. Callers of the store only ever see MovingDataError.
 */
import { MovingDataError, isMovingDataError } from '../../errors.ts';
import type { FileId } from '../port.ts';
import { parseId } from './rows.ts';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const detail = 'detail' in err && typeof err.detail === 'string' ? ` (${err.detail})` : '';
    return `${err.message}${detail}`;
  }
  return String(err);
}

/** `operation` names what was being done, e.g. `addVersion`. */
export function mapDatabaseError(err: unknown, operation: string): MovingDataError {
  if (isMovingDataError(err)) return err;
  const code = sqlState(err);
  const message = `metadata ${operation}: ${describeError(err)}`;
  const details = { operation, ...(code === undefined ? {} : { sqlState: code }) };
  const make = (c: ConstructorParameters<typeof MovingDataError>[0], retryable?: boolean) =>
    new MovingDataError(c, message, { cause: err, details, ...(retryable === undefined ? {} : { retryable }) });

  if (code === undefined) {
    if (err instanceof Error && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(err.message)) {
      return make('unavailable', true);
    }
    return make('internal', false);
  }
  if (NETWORK_CODES.has(code)) return make('unavailable', true);
  switch (code) {
    case '23505': // unique_violation
    case '23P01': // exclusion_violation
      return make('conflict', false);
    case '23503': // foreign_key_violation: the row it points at is gone
      return make('not_found', false);
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
    case '55P03': // lock_not_available
      return make('conflict', true);
    case '57014': // query_canceled (statement timeout)
      return make('unavailable', true);
    case '3D000': // invalid_catalog_name: the database does not exist
    case '3F000': // invalid_schema_name
      return make('unavailable', false);
  }
  const klass = code.slice(0, 2);
  if (klass === '22' || klass === '23') return make('invalid_argument', false); // data exception, other integrity
  if (klass === '08' || klass === '53' || klass === '57') return make('unavailable', true); // connection, resources, shutdown
  if (klass === '28') return make('access_denied', false); // invalid authorization
  return make('internal', false);
}

/**
 * One store operation: the store's misuse guard first (see SqlMetadataStore.transaction), then
 * `work`, whose errors come out as MovingDataError. Every SQL sub-store runs its calls through it.
 */
export async function guarded<T>(guard: (() => void) | undefined, operation: string, work: () => Promise<T>): Promise<T> {
  guard?.();
  try {
    return await work();
  } catch (err) {
    throw mapDatabaseError(err, operation);
  }
}

export function notFound(message: string, details: Record<string, unknown>): MovingDataError {
  return new MovingDataError('not_found', message, { retryable: false, details });
}

/** Turns an id the caller gave into the database's form, or reports that it cannot exist. */
export function fileIdOrNotFound(id: FileId): string {
  const parsed = parseId(id);
  if (parsed === undefined) throw notFound(`no file with id ${String(id)}`, { fileId: id });
  return parsed;
}

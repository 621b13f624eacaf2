/**
 * Every error MovingData raises on purpose carries a stable, machine-readable code and says
 * whether trying again may help. The HTTP tier maps codes to statuses in one place
 * (src/api/errors.ts); the CLI maps them to exit codes. Callers branch on `code`, never on
 * messages or SDK-specific classes.
 */
export const ERROR_CODES = [
  // storage and general
  'not_found',
  'access_denied',
  'conflict',
  'precondition_failed',
  'throttled',
  'unavailable',
  'invalid_argument',
  'invalid_key',
  'invalid_cursor',
  'unsupported',
  'checksum_mismatch',
  'range_not_satisfiable',
  'too_large',
  // configuration
  'config_invalid',
  // security (later capabilities)
  'unauthenticated',
  'forbidden',
  // a cookie-authenticated request that changes state without the session's CSRF token
  'csrf_mismatch',
  'decryption_failed',
  // a stored object is not the one recorded (substituted, truncated, re-written behind our back)
  'integrity_mismatch',
  // the object is in an offline tier (archive): restore it before reading
  'archived',
  // anything we did not anticipate
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes that are worth retrying when nothing else is known. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set(['throttled', 'unavailable']);

export interface MovingDataErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Safe-to-show structured details (never secrets, never plaintext). */
  details?: Record<string, unknown>;
}

export class MovingDataError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: MovingDataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MovingDataError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details;
  }
}

export function isMovingDataError(err: unknown): err is MovingDataError {
  return err instanceof MovingDataError;
}

/** A configuration value is missing or malformed; the message names the variable. */
export class ConfigError extends MovingDataError {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('config_invalid', `${variable}: ${message}`, { retryable: false, details: { variable } });
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

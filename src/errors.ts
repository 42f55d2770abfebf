/**
 * Every error a client can see is an AppError: a stable `code` (SNAKE_CASE, part of the API
 * contract), the HTTP status it maps to, and optional `details` for the client. The original
 * failure rides along as `cause` for the logs, never for the client.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, message: string, opts: { status?: number; details?: unknown; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status ?? 400;
    this.details = opts.details;
  }
}

export class ValidationError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, { status: 400, details });
  }
}

export class UnauthorizedError extends AppError {
  constructor(code = 'UNAUTHORIZED', message = 'Missing or invalid credentials') {
    super(code, message, { status: 401 });
  }
}

export class ForbiddenError extends AppError {
  constructor(code = 'FORBIDDEN', message = 'Your role does not allow this') {
    super(code, message, { status: 403 });
  }
}

/** Also used for other owners' resources: a stranger learns nothing, not even existence. */
export class NotFoundError extends AppError {
  constructor(what: string, id?: string) {
    super(`${what.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_NOT_FOUND`, id ? `${what} ${id} not found` : `${what} not found`, {
      status: 404,
    });
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, { status: 409, details });
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, { status: 413, details });
  }
}

export class UnsupportedMediaError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, { status: 415, details });
  }
}

export class TooManyRequestsError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(code: string, message: string, retryAfterSeconds: number) {
    super(code, message, { status: 429, details: { retry_after_seconds: retryAfterSeconds } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Start-up configuration problems: the message always names the variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** Postgres unique_violation, identical in pg and PGlite. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return !!e && e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** A foreign key blocked the change: 23503, or 23001 when the key is ON DELETE RESTRICT. */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '23503' || code === '23001';
}

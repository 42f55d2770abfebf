/**
 * Every failure the client reports is a TrainyardError: the API's own error body
 * (`{"error": {"code", "message", "details"}}`) with the HTTP status and the request id the
 * server logged it under, so a report can quote what the operator needs to find it.
 */
export class TrainyardError extends Error {
  /** The HTTP status; 0 when no answer came (see TrainyardConnectionError). */
  readonly status: number;
  /** The API's stable error code (SNAKE_CASE), e.g. `INSUFFICIENT_CREDITS`, `RATE_LIMITED`. */
  readonly code: string;
  readonly details: unknown;
  /** The server's `x-request-id` for this request, when it answered. */
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, opts: { details?: unknown; requestId?: string | null; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = opts.details;
    this.requestId = opts.requestId ?? null;
  }

  /** Reads a non-2xx answer's body into an error (a body that is not the API's envelope keeps its text). */
  static async fromResponse(res: Response): Promise<TrainyardError> {
    const requestId = res.headers.get('x-request-id');
    const text = await res.text().catch(() => '');
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 500) || `${res.status} ${res.statusText}`;
    let details: unknown;
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
      if (body.error && typeof body.error.code === 'string') {
        code = body.error.code;
        if (typeof body.error.message === 'string') message = body.error.message;
        details = body.error.details;
      }
    } catch {
      // Not JSON (a proxy's error page, say): the text is the message.
    }
    return new TrainyardError(res.status, code, message, { details, requestId });
  }
}

/** No answer at all: the connection failed, was reset, or timed out. */
export class TrainyardConnectionError extends TrainyardError {
  constructor(message: string, cause: unknown) {
    super(0, 'CONNECTION_FAILED', message, { cause });
  }
}

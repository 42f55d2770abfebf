import { stdSerializers } from 'pino';

/**
 * Database errors must never carry the values of a query into a log line. PGlite attaches the
 * whole query, its parameters and options to every error it throws (`params` held a webhook
 * secret in one failed insert), and Postgres itself repeats row values in `detail` ("Failing
 * row contains (…)", "Key (email)=(…) already exists"). The adapters pass every error through
 * here before it leaves them; the SQL text, code, constraint, table and column stay, since
 * they are what an operator needs and they hold no user data.
 */
const VALUE_FIELDS = ['params', 'parameters', 'values', 'queryOptions'] as const;

export function redactDbError<E>(err: E): E {
  if (!err || typeof err !== 'object') return err;
  const e = err as Record<string, unknown>;
  for (const f of VALUE_FIELDS) if (f in e) delete e[f];
  if (typeof e.detail === 'string') {
    const scrubbed = scrubDetail(e.detail);
    if (scrubbed === null) delete e.detail;
    else e.detail = scrubbed;
  }
  return err;
}

/** Keeps the shape of Postgres's usual details, never the values in them; drops any other detail. */
function scrubDetail(detail: string): string | null {
  if (detail.startsWith('Failing row contains')) return 'Failing row contains (…).';
  const key = /^Key \(([^)]*)\)=\(.*\)( [a-z][^()]*)$/s.exec(detail);
  if (key) return `Key (${key[1]})=(…)${key[2]}`;
  return null;
}

/** pino's `err` serializer, minus any query values a non-database error might still carry. */
export function errSerializer(err: Error): Record<string, unknown> {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  return redactDbError(out);
}

/** Wraps an adapter call so whatever it throws leaves redacted. */
export async function redacting<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw redactDbError(err);
  }
}

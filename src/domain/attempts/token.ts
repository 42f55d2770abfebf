/**
 * Attempt tokens: the one credential a remote launcher (Kubernetes, Slurm) holds. It names one
 * claim — job, worker, attempt — and an expiry, and is signed with a key derived from the
 * server's secret, so every API replica verifies it alone (no table, no lookup). Holding one
 * lets a launcher write only what the claim's worker could write (every write is fenced by the
 * same three values), and only while that claim stands: a reaped or taken-over attempt is
 * refused by the fence even before its token expires.
 *
 * Format: `tya1.<base64url(JSON {j, w, a, exp})>.<base64url(HMAC-SHA256 of "tya1.<payload>")>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../../errors.js';
import { deriveKey } from '../../storage/signing.js';
import type { Fence } from '../jobs/types.js';

const PREFIX = 'tya1';
/** Longer than any token we issue (ids are ≤ 100 characters): refused before any parsing. */
const MAX_TOKEN_CHARS = 1024;
/** A launcher's token outlives no job: the longest job limit plus slack is the most a caller should ask. */
export const MAX_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

export class AttemptTokenError extends UnauthorizedError {
  constructor(code: 'ATTEMPT_TOKEN_INVALID' | 'ATTEMPT_TOKEN_EXPIRED', message: string) {
    super(code, message);
  }
}

export const isAttemptToken = (token: string): boolean => token.startsWith(`${PREFIX}.`);

export class AttemptTokens {
  private readonly key: Buffer;

  constructor(secret: Buffer) {
    this.key = deriveKey(secret, 'attempt-token');
  }

  private mac(signed: string): Buffer {
    return createHmac('sha256', this.key).update(signed).digest();
  }

  /** A token for `fence`, valid for `ttlSeconds` from now (whole seconds). */
  issue(fence: Fence, ttlSeconds: number, now = Date.now()): string {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TOKEN_TTL_SECONDS)
      throw new RangeError(`attempt token ttl must be 1..${MAX_TOKEN_TTL_SECONDS} seconds, got ${ttlSeconds}`);
    const exp = Math.floor(now / 1000) + ttlSeconds;
    const payload = Buffer.from(JSON.stringify({ j: fence.jobId, w: fence.workerId, a: fence.attempt, exp })).toString('base64url');
    const signed = `${PREFIX}.${payload}`;
    return `${signed}.${this.mac(signed).toString('base64url')}`;
  }

  /** The claim a token names; 401 ATTEMPT_TOKEN_INVALID (malformed, forged) or ATTEMPT_TOKEN_EXPIRED. */
  verify(token: string, now = Date.now()): Fence {
    const invalid = () => new AttemptTokenError('ATTEMPT_TOKEN_INVALID', 'the attempt token is malformed or its signature does not match');
    if (token.length > MAX_TOKEN_CHARS) throw invalid();
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX) throw invalid();
    // Compared as text, not decoded bytes: base64url decoding forgives stray characters and
    // padding bits, and a token must have exactly one spelling. Constant time, and before
    // reading the payload: nothing unsigned is ever parsed.
    const given = Buffer.from(parts[2]!);
    const expected = Buffer.from(this.mac(`${parts[0]}.${parts[1]}`).toString('base64url'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    let o: { j?: unknown; w?: unknown; a?: unknown; exp?: unknown };
    try {
      o = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof o;
    } catch {
      throw invalid();
    }
    if (typeof o.j !== 'string' || typeof o.w !== 'string' || !Number.isInteger(o.a) || !Number.isInteger(o.exp)) throw invalid();
    if ((o.exp as number) * 1000 <= now) throw new AttemptTokenError('ATTEMPT_TOKEN_EXPIRED', 'the attempt token has expired');
    return { jobId: o.j, workerId: o.w, attempt: o.a as number };
  }
}

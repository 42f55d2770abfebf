import { createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { SignJWT, jwtVerify } from 'jose';

// OWASP's argon2id baseline (19 MiB, t=2, p=1): ~25 ms a hash on this 2-core machine.
// algorithm 2 is Argon2id (a const enum, which isolated modules cannot import).
const ARGON2 = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** Verified when the user does not exist, so a wrong username costs as much as a wrong password. */
export const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$H802ZnZrjYe9qkX4jQfBWTQtJnmj6Noz+sJrSQ8gzOM';

/** `ty_` + 8-char lookup prefix + `_` + 32 random bytes. Only a hash is stored. */
export function newApiKeySecret(): { secret: string; prefix: string } {
  const prefix = randomBytes(6).toString('base64url').slice(0, 8);
  return { secret: `ty_${prefix}_${randomBytes(32).toString('base64url')}`, prefix: `ty_${prefix}` };
}

/** API keys carry 256 random bits, so a fast hash is enough; argon2 would cost ~25 ms a request. */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function isApiKey(token: string): boolean {
  return token.startsWith('ty_');
}

/**
 * The JWT HMAC key, made once: given raw bytes, jose imports them through WebCrypto on every
 * sign and verify (~60 µs a request, bench/README.md).
 */
export type JwtKey = KeyObject;
export function jwtKey(raw: Buffer): JwtKey {
  return createSecretKey(raw);
}

export async function signAccessToken(key: JwtKey, userId: string, ttlSeconds: number): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuer('trainyard')
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}

/** Leeway for clocks between API processes. */
const CLOCK_SKEW_SECONDS = 60;

/**
 * A token must say when it expires (`exp` and `iat` required), and no later than this server's
 * token lifetime allows: a correctly signed token that never expires, or expires in ten years,
 * was not issued here.
 */
export async function verifyAccessToken(key: JwtKey, token: string, ttlSeconds: number): Promise<{ sub: string; notAfterMs: number } | null> {
  try {
    const { payload } = await jwtVerify(token, key, {
      issuer: 'trainyard',
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'iat', 'sub'],
      maxTokenAge: ttlSeconds + CLOCK_SKEW_SECONDS,
      clockTolerance: CLOCK_SKEW_SECONDS,
    });
    if (payload.exp! > Math.floor(Date.now() / 1000) + ttlSeconds + CLOCK_SKEW_SECONDS) return null;
    // A cached principal must not outlive its token: its expiry, or the age limit, whichever comes first.
    const notAfterMs = Math.min(payload.exp!, payload.iat! + ttlSeconds + CLOCK_SKEW_SECONDS) * 1000;
    return typeof payload.sub === 'string' ? { sub: payload.sub, notAfterMs } : null;
  } catch {
    return null;
  }
}

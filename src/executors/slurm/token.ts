/**
 * Slurm's JWTs (auth/jwt): HS256 over the cluster's `jwt_hs256.key`, with the user in `sun`.
 * `scontrol token` makes the same token; signing here lets a site give Trainyard the key
 * instead of a token it would have to renew by hand before each expiry.
 */
import { SignJWT } from 'jose';

export interface SlurmTokenOptions {
  /** The raw bytes of the cluster's jwt_hs256.key (AuthAltParameters=jwt_key=...). */
  key: Uint8Array;
  userName: string;
  /** Seconds until it expires (default 1 h). */
  lifespanS?: number;
  /** For tests; defaults to now. */
  now?: Date;
}

export async function signSlurmToken({ key, userName, lifespanS = 3600, now = new Date() }: SlurmTokenOptions): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ sun: userName })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifespanS)
    .sign(key);
}

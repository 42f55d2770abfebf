import { createHmac, timingSafeEqual } from 'node:crypto';

/** Sub-keys from the master secret so a leak of one purpose's key does not sign another's. */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  return createHmac('sha256', master).update(`trainyard:${purpose}`).digest();
}

export interface SignedParams {
  method: 'GET' | 'PUT';
  key: string;
  expires: number;
  maxBytes?: number;
}

function payload(p: SignedParams): string {
  return [p.method, p.key, String(p.expires), p.maxBytes === undefined ? '' : String(p.maxBytes)].join('\n');
}

export function sign(secret: Buffer, p: SignedParams): string {
  return createHmac('sha256', secret).update(payload(p)).digest('base64url');
}

export type VerifyResult = 'ok' | 'expired' | 'bad_signature';

export function verify(secret: Buffer, p: SignedParams, signature: string, now = Date.now()): VerifyResult {
  const expected = Buffer.from(sign(secret, p));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'bad_signature';
  // Checked after the signature so a forged expiry tells an attacker nothing.
  if (p.expires * 1000 < now) return 'expired';
  return 'ok';
}

/**
 * Standard Webhooks (https://www.standardwebhooks.com) signatures, so receivers can use any
 * of the published verification libraries instead of code written against Trainyard.
 *
 * The signed content is `${id}.${timestamp}.${body}`: binding the id and the time as well as
 * the body means a captured request can neither be replayed later (the receiver checks the
 * timestamp) nor re-labelled as another message (the receiver dedupes on the id).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 24;

export type WebhookHeaderName = 'webhook-id' | 'webhook-timestamp' | 'webhook-signature';
export type WebhookHeaders = Record<WebhookHeaderName, string>;

/** Anything that carries request headers: a fetch `Headers`, Node's `req.headers`, a plain record. */
export type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

/** `whsec_` + base64 of 24 random bytes (the spec's minimum, 192 bits). */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key is the decoded secret; the prefix is optional, as in the reference libraries. */
function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new TypeError('webhook secret must be whsec_ followed by base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new TypeError('webhook secret is empty');
  return key;
}

function digest(key: Buffer, id: string, timestamp: number | string, body: string | Buffer): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`);
  // Bytes as received: a Buffer body is never round-tripped through a string decoder.
  mac.update(body);
  return mac.digest('base64');
}

/** The `webhook-signature` value: `v1,<base64 HMAC-SHA256>`. `timestamp` is unix seconds. */
export function sign(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new TypeError('timestamp must be whole unix seconds');
  return `v1,${digest(secretKey(secret), id, timestamp, body)}`;
}

/** The three headers for one send attempt. */
export function webhookHeaders(secret: string, id: string, timestamp: number, body: string | Buffer): WebhookHeaders {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(secret, id, timestamp, body) };
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() !== name) continue;
    return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * True when `body` carries a valid signature by `secret` with a timestamp within
 * `toleranceSeconds` of `nowMs` (either side: receivers' clocks drift both ways). The
 * signature header may list several space-separated signatures (secret rotation); any valid
 * `v1` one is enough, and other versions are ignored. Comparisons are constant-time.
 */
export function verify(secret: string, headers: HeaderSource, body: string | Buffer, toleranceSeconds = 300, nowMs = Date.now()): boolean {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return false;
  if (!/^\d{1,15}$/.test(timestamp)) return false;
  if (Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > toleranceSeconds) return false;

  const expected = Buffer.from(digest(secretKey(secret), id, timestamp, body));
  let ok = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const candidate = Buffer.from(entry.slice(comma + 1));
    // Comparing the encoded text rather than decoded bytes: Node's lenient base64 decoder would
    // otherwise accept several spellings of one signature. Length is not secret.
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) ok = true;
  }
  return ok;
}

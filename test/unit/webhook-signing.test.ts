import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newSecret, sign, verify, webhookHeaders } from '../../src/domain/webhooks/signing.js';

// The example from the Standard Webhooks specification and its reference libraries.
const REF = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const refNow = REF.timestamp * 1000;

describe('webhook secrets', () => {
  it('are whsec_ + base64 of 24 random bytes, different every time', () => {
    const a = newSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(24);
    expect(newSecret()).not.toBe(a);
  });
});

describe('sign', () => {
  it('matches the Standard Webhooks reference vector', () => {
    expect(sign(REF.secret, REF.id, REF.timestamp, REF.body)).toBe(REF.signature);
    expect(sign(REF.secret, REF.id, REF.timestamp, Buffer.from(REF.body))).toBe(REF.signature);
  });

  it('is HMAC-SHA256 of "id.timestamp.body" keyed by the decoded secret', () => {
    const secret = newSecret();
    const body = JSON.stringify({ type: 'job.succeeded', timestamp: '2026-01-01T00:00:00.000Z', data: { job: { id: 'job_1', name: 'ünïcode ✓' } } });
    const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
      .update(`msg_1.1700000000.${body}`)
      .digest('base64');
    expect(sign(secret, 'msg_1', 1700000000, body)).toBe(`v1,${expected}`);
  });

  it('refuses a malformed secret or timestamp', () => {
    expect(() => sign('whsec_not base64!', 'msg_1', 1, '{}')).toThrow(TypeError);
    expect(() => sign('whsec_', 'msg_1', 1, '{}')).toThrow(TypeError);
    expect(() => sign(newSecret(), 'msg_1', 1.5, '{}')).toThrow(TypeError);
  });
});

describe('verify', () => {
  const headers = { 'webhook-id': REF.id, 'webhook-timestamp': String(REF.timestamp), 'webhook-signature': REF.signature };

  it('accepts the reference message, from a record or a fetch Headers, string or Buffer body', () => {
    expect(verify(REF.secret, headers, REF.body, 300, refNow)).toBe(true);
    expect(verify(REF.secret, new Headers(headers), Buffer.from(REF.body), 300, refNow)).toBe(true);
    expect(
      verify(REF.secret, { 'Webhook-Id': REF.id, 'WEBHOOK-TIMESTAMP': [String(REF.timestamp)], 'webhook-signature': REF.signature }, REF.body, 300, refNow),
    ).toBe(true);
  });

  it('round-trips what sign() produces, at the current time by default', () => {
    const secret = newSecret();
    const body = '{"type":"job.failed","timestamp":"x","data":{}}';
    const h = webhookHeaders(secret, 'msg_abc', Math.floor(Date.now() / 1000), body);
    expect(verify(secret, h, body)).toBe(true);
    expect(verify(newSecret(), h, body)).toBe(false);
  });

  it('detects a tampered body, timestamp or id', () => {
    expect(verify(REF.secret, headers, REF.body.replace('2432232314', '2432232315'), 300, refNow)).toBe(false);
    expect(verify(REF.secret, headers, `${REF.body} `, 300, refNow)).toBe(false);
    expect(verify(REF.secret, { ...headers, 'webhook-timestamp': String(REF.timestamp + 1) }, REF.body, 300, refNow)).toBe(false);
    expect(verify(REF.secret, { ...headers, 'webhook-id': `${REF.id}x` }, REF.body, 300, refNow)).toBe(false);
    expect(verify(REF.secret, { ...headers, 'webhook-signature': `${REF.signature.slice(0, -2)}A=` }, REF.body, 300, refNow)).toBe(false);
  });

  it('enforces the tolerance window on both sides', () => {
    expect(verify(REF.secret, headers, REF.body, 300, refNow + 300_000)).toBe(true);
    expect(verify(REF.secret, headers, REF.body, 300, refNow + 301_000)).toBe(false);
    expect(verify(REF.secret, headers, REF.body, 300, refNow - 300_000)).toBe(true);
    expect(verify(REF.secret, headers, REF.body, 300, refNow - 301_000)).toBe(false);
    expect(verify(REF.secret, headers, REF.body, 10, refNow + 11_000)).toBe(false);
  });

  it('accepts any valid v1 signature in a space-separated list and ignores other versions', () => {
    const list = `v1a,${REF.signature.slice(3)} v1,bm90IHRoaXMgb25l ${REF.signature}`;
    expect(verify(REF.secret, { ...headers, 'webhook-signature': list }, REF.body, 300, refNow)).toBe(true);
    expect(verify(REF.secret, { ...headers, 'webhook-signature': `v2,${REF.signature.slice(3)}` }, REF.body, 300, refNow)).toBe(false);
  });

  it('rejects missing headers and malformed timestamps', () => {
    for (const name of Object.keys(headers)) {
      const partial = { ...headers } as Record<string, string>;
      delete partial[name];
      expect(verify(REF.secret, partial, REF.body, 300, refNow)).toBe(false);
    }
    expect(verify(REF.secret, { ...headers, 'webhook-timestamp': `${REF.timestamp}.0` }, REF.body, 300, refNow)).toBe(false);
    expect(verify(REF.secret, { ...headers, 'webhook-timestamp': `-${REF.timestamp}` }, REF.body, 300, refNow)).toBe(false);
  });

  it('does not accept alternative base64 spellings of the right signature', () => {
    // Node's decoder ignores trailing junk; comparing the encoded text keeps signatures canonical.
    expect(verify(REF.secret, { ...headers, 'webhook-signature': `${REF.signature}AAAA` }, REF.body, 300, refNow)).toBe(false);
    expect(verify(REF.secret, { ...headers, 'webhook-signature': REF.signature.replace(/=$/, '') }, REF.body, 300, refNow)).toBe(false);
  });
});

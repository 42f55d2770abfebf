import { describe, expect, it } from 'vitest';
import { AttemptTokens } from '../../src/domain/attempts/token.js';

const fence = { jobId: 'job_abc', workerId: 'wkr_1', attempt: 2 };
const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return `${(err as { status?: number }).status} ${(err as { code?: string }).code}`;
  }
};

describe('attempt tokens', () => {
  const tokens = new AttemptTokens(Buffer.from('a secret of the server'));

  it('carry their fence, and any instance with the same secret verifies them (another secret does not)', () => {
    const t = tokens.issue(fence, 60);
    expect(t).toMatch(/^tya1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(new AttemptTokens(Buffer.from('a secret of the server')).verify(t)).toEqual(fence);
    expect(code(() => new AttemptTokens(Buffer.from('another secret')).verify(t))).toBe('401 ATTEMPT_TOKEN_INVALID');
  });

  it('expire at their exp, checked after the signature', () => {
    const now = Date.now();
    const t = tokens.issue(fence, 10, now);
    expect(tokens.verify(t, now + 9_000)).toEqual(fence);
    expect(code(() => tokens.verify(t, now + 11_000))).toBe('401 ATTEMPT_TOKEN_EXPIRED');
    // A forged token that is also expired says only "invalid".
    expect(code(() => tokens.verify(t.slice(0, -2) + 'AA', now + 11_000))).toBe('401 ATTEMPT_TOKEN_INVALID');
  });

  it('have exactly one spelling: every changed character is refused', () => {
    const t = tokens.issue(fence, 60);
    for (let i = 0; i < t.length; i++) {
      const c = t[i] === 'A' ? 'B' : 'A';
      expect(
        code(() => tokens.verify(t.slice(0, i) + c + t.slice(i + 1))),
        `char ${i}`,
      ).toBe('401 ATTEMPT_TOKEN_INVALID');
    }
    expect(code(() => tokens.verify(t + '='))).toBe('401 ATTEMPT_TOKEN_INVALID');
    expect(code(() => tokens.verify('x'.repeat(5000)))).toBe('401 ATTEMPT_TOKEN_INVALID');
  });

  it('are issued only for a sensible lifetime', () => {
    expect(() => tokens.issue(fence, 0)).toThrow(RangeError);
    expect(() => tokens.issue(fence, 1.5)).toThrow(RangeError);
    expect(() => tokens.issue(fence, 30 * 24 * 3600)).toThrow(RangeError);
  });
});

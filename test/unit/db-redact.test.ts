import { describe, expect, it } from 'vitest';
import { errSerializer, redactDbError } from '../../src/db/redact.js';

describe('redactDbError', () => {
  it('drops the parameters PGlite attaches and the values Postgres repeats in detail', () => {
    const err = Object.assign(new Error('new row violates check constraint "x"'), {
      code: '23514',
      query: 'insert into webhook_endpoints (secret) values ($1)',
      params: ['whsec_secret'],
      queryOptions: { rowMode: 'object' },
      detail: 'Failing row contains (wh_1, usr_1, whsec_secret).',
      constraint: 'x',
    });
    const out = redactDbError(err);
    expect(out).toBe(err);
    expect(JSON.stringify({ ...out })).not.toContain('whsec_secret');
    expect(out).toMatchObject({
      code: '23514',
      constraint: 'x',
      query: 'insert into webhook_endpoints (secret) values ($1)',
      detail: 'Failing row contains (…).',
    });
  });

  it('keeps the column names of a key detail, never the value, and drops details it does not know', () => {
    const fk = redactDbError(Object.assign(new Error('fk'), { detail: 'Key (owner_id)=(usr_(odd)) is not present in table "users".' }));
    expect(fk.detail).toBe('Key (owner_id)=(…) is not present in table "users".');
    const other = redactDbError(Object.assign(new Error('x'), { detail: 'Token "whsec_x" is invalid.' }));
    expect('detail' in other).toBe(false);
  });

  it('is the logger serializer for err', () => {
    const e = Object.assign(new Error('boom'), { params: ['p@ss'] });
    expect(JSON.stringify(errSerializer(e))).not.toContain('p@ss');
  });
});

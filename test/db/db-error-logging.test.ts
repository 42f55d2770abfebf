import { pino } from 'pino';
import { createLogger } from '../../src/runtime.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';

// Issue #10: a failed query's log line carried its SQL parameters, one of them a webhook secret.

let t: TestApp;
let api: ReturnType<typeof client>;
const lines: string[] = [];

beforeAll(async () => {
  // The production logger's settings, writing into `lines`.
  // The production logger, writing into `lines`.
  const logger = createLogger({ logLevel: 'info' }, { write: (l: string) => void lines.push(l) });
  t = await startTestApp({ logger, env: { WEBHOOK_ALLOW_ADDRESSES: '127.0.0.2/32' } });
  api = client(t.url);
});
afterAll(() => t.close());

describe('failed queries', () => {
  it('carry no parameters on the error, and a logged one shows none', async () => {
    const secret = 'whsec_do-not-log-this-0123456789';
    let caught: unknown;
    try {
      await t.testDb.db.query('insert into webhook_endpoints (id, owner_id, url, events, secret) values ($1, $2, $3, $4::text[], $5)', [
        'wh_x',
        'usr_missing',
        'https://example.com/hook',
        ['job.succeeded'],
        secret,
      ]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as { code?: string }).code).toBe('23503'); // still a Postgres error the callers can classify
    expect(JSON.stringify(caught)).not.toContain(secret);
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    logger.error({ err: caught }, 'query failed');
    const logged = lines.at(-1)!;
    expect(logged).toContain('query failed');
    expect(logged).not.toContain(secret);
    expect(logged).not.toContain('"params"');
  });

  it('leave no parameter in the log when a request fails on the database', async () => {
    const bob = await api.user('bob');
    // Refuse every new endpoint row: the insert (its parameters include the new secret) fails.
    await t.testDb.db.exec('alter table webhook_endpoints add constraint refuse_all check (false) not valid');
    try {
      const r = await api.post('/v1/webhooks', { url: 'http://127.0.0.2:9/hook', events: ['job.succeeded'] }, bob.token);
      expect(r.status).toBe(500);
    } finally {
      await t.testDb.db.exec('alter table webhook_endpoints drop constraint refuse_all');
    }
    const failed = lines.filter((l) => l.includes('webhook_endpoints') && l.includes('"level":50'));
    expect(failed.length).toBeGreaterThan(0);
    for (const l of failed) {
      expect(l).not.toContain('whsec_');
      expect(l).not.toContain('"params"');
      expect(l).not.toContain('127.0.0.2:9/hook');
    }
  });
});

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { until } from '../helpers/wait.js';

// Issue #10: expired pending uploads were purged only when the next upload started.

const INTERVAL = 137; // odd, so the purge timer is the only interval of that period
let t: TestApp;
let closed = false;
let api: ReturnType<typeof client>;
const purgeTimers: unknown[] = [];
const cleared = new Set<unknown>();

beforeAll(async () => {
  const realSet = globalThis.setInterval;
  const realClear = globalThis.clearInterval;
  vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms?: number) => {
    const h = realSet(fn, ms);
    if (ms === INTERVAL) purgeTimers.push(h);
    return h;
  }) as typeof setInterval);
  vi.spyOn(globalThis, 'clearInterval').mockImplementation(((h: NodeJS.Timeout | undefined) => {
    cleared.add(h);
    realClear(h);
  }) as typeof clearInterval);
  t = await startTestApp({ env: { UPLOAD_PURGE_INTERVAL_MS: String(INTERVAL) } });
  api = client(t.url);
});
afterAll(async () => {
  if (!closed) await t.close();
  vi.restoreAllMocks();
});

describe('expired pending uploads', () => {
  it('are purged on a timer with their stored bytes, and the timer stops with the server', async () => {
    const alice = await api.user('alice');
    const body = 'x,y\n1,2\n';
    const up = await api.post('/v1/uploads', { filename: 'x.csv', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') }, alice.token);
    expect((await fetch(up.body.upload_url, { method: 'PUT', body })).status).toBe(200);
    const key = `files/${alice.id}/${up.body.file_id}`;
    expect(await t.rt.services.store.stat(key)).not.toBeNull();
    // Expired as far as the database knows; no other upload starts after this.
    await t.testDb.db.query(`update files set expires_at = now() - interval '1 minute' where id = $1`, [up.body.file_id]);
    await until(async () => (await t.testDb.db.query('select 1 from files where id = $1', [up.body.file_id])).rows.length === 0, {
      message: 'the expired upload row to be purged',
    });
    await until(async () => (await t.rt.services.store.stat(key)) === null, { message: 'the expired upload blob to be removed' });
    expect((await api.post(`/v1/uploads/${up.body.file_id}/complete`, {}, alice.token)).status).toBe(404);

    expect(purgeTimers).toHaveLength(1);
    await t.close();
    closed = true;
    expect(cleared.has(purgeTimers[0])).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { PrincipalCache } from '../../src/domain/accounts/principal-cache.js';
import type { Principal } from '../../src/domain/accounts/service.js';

// The cache's own rules, with a stand-in database that delivers notifications and LISTEN
// connection state by hand. Cross-process correctness is in test/db/principal-cache.test.ts.

function fakeDb() {
  let notify: (payload: string) => void = () => {};
  let state: (up: boolean) => void = () => {};
  const db = {
    listen: async (_channel: string, h: (payload: string) => void) => ((notify = h), async () => {}),
    onListenerState: (h: (up: boolean) => void) => ((state = h), () => {}),
  } as unknown as Db;
  return { db, notify: (p: string) => notify(p), state: (up: boolean) => state(up) };
}
const p = (userId: string): Principal => ({ userId, username: userId, role: 'user', via: 'api_key', keyId: `key_${userId}` });

describe('PrincipalCache', () => {
  it('serves nothing before it listens, and nothing while the LISTEN connection is down', async () => {
    const f = fakeDb();
    const c = new PrincipalCache({ db: f.db, ttlMs: 60_000, maxEntries: 10 });
    c.set('t', p('u1'), c.begin());
    expect(c.get('t')).toBeUndefined();
    await c.start();
    c.set('t', p('u1'), c.begin());
    expect(c.get('t')?.p.userId).toBe('u1');
    f.state(false);
    expect(c.get('t')).toBeUndefined();
    c.set('t', p('u1'), c.begin());
    f.state(true);
    // Notifications sent while it was down are lost: it comes back empty.
    expect(c.get('t')).toBeUndefined();
  });

  it('drops everything on a notification, and does not store a read that began before it', async () => {
    const f = fakeDb();
    const c = new PrincipalCache({ db: f.db, ttlMs: 60_000, maxEntries: 10 });
    await c.start();
    c.set('a', p('u1'), c.begin());
    const gen = c.begin();
    f.notify('k:key_u2');
    expect(c.get('a')).toBeUndefined();
    c.set('b', p('u2'), gen);
    expect(c.get('b')).toBeUndefined();
  });

  it('keeps at most maxEntries, evicting the least recently used', async () => {
    const c = new PrincipalCache({ db: fakeDb().db, ttlMs: 60_000, maxEntries: 2 });
    await c.start();
    c.set('a', p('a'), c.begin());
    c.set('b', p('b'), c.begin());
    c.get('a');
    c.set('c', p('c'), c.begin());
    expect([c.get('a')?.p.userId, c.get('b'), c.get('c')?.p.userId]).toEqual(['a', undefined, 'c']);
    expect(c.size).toBe(2);
  });

  it('never outlives a token’s expiry, and is off with ttlMs 0', async () => {
    const c = new PrincipalCache({ db: fakeDb().db, ttlMs: 60_000, maxEntries: 10 });
    await c.start();
    c.set('expired', p('u1'), c.begin(), Date.now() - 1);
    expect(c.get('expired')).toBeUndefined();
    const off = new PrincipalCache({ db: fakeDb().db, ttlMs: 0, maxEntries: 10 });
    await off.start();
    off.set('t', p('u1'), off.begin());
    expect(off.get('t')).toBeUndefined();
  });

  it('a cached principal cannot be changed by the request that got it', async () => {
    const c = new PrincipalCache({ db: fakeDb().db, ttlMs: 60_000, maxEntries: 10 });
    await c.start();
    c.set('t', p('u1'), c.begin());
    expect(() => ((c.get('t')!.p as { role: string }).role = 'admin')).toThrow(TypeError);
  });
});

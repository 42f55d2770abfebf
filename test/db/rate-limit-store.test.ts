import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { postgresRateLimitStore } from '../../src/app/plugins/rate-limit-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

// The shared rate-limit counters (src/app/plugins/rate-limit-store.ts) as the plugin drives
// them: each `replica` below is a store of its own, as each API process has one, on one database.

let t: TestDatabase;
let queries = 0;
let counted: Db;
beforeAll(async () => {
  t = await createTestDatabase();
  await migrate(t.db);
  counted = { ...t.db, query: (sql: string, params?: readonly unknown[]) => (queries++, t.db.query(sql, params)) } as Db;
});
afterAll(() => t.drop());

type Store = { incr(key: string, cb: (err: Error | null, r?: { current: number; ttl: number }) => void, window: number, max: number): void };
const replica = (): Store => new (postgresRateLimitStore(counted).Store)({} as never) as unknown as Store;
const hit = (s: Store, key: string, max: number, windowMs = 3_600_000) =>
  new Promise<{ current: number; ttl: number }>((resolve, reject) => s.incr(key, (err, r) => (err ? reject(err) : resolve(r!)), windowMs, max));
const granted = (rs: { current: number }[], max: number) => rs.filter((r) => r.current <= max).length;

describe('rate-limit counters shared by API processes', () => {
  it('a small limit is exact: 10 allowed of 40 requests at once spread over two processes', async () => {
    const [a, b] = [replica(), replica()];
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => hit(i % 2 ? a : b, 'user:small', 10)));
    expect(granted(rs, 10)).toBe(10);
    // Each granted hit has its own place in the window's count.
    expect(new Set(rs.filter((r) => r.current <= 10).map((r) => r.current)).size).toBe(10);
  });

  it('a large limit is never exceeded by three processes at once, and wastes at most a share of it on leases', async () => {
    const stores = [replica(), replica(), replica()];
    const rs = await Promise.all(Array.from({ length: 1500 }, (_, i) => hit(stores[i % 3]!, 'user:large', 1000)));
    const n = granted(rs, 1000);
    expect(n).toBeLessThanOrEqual(1000);
    // Hits a process leased and had no request left for: at most 1/16 of what remained, each.
    expect(n).toBeGreaterThanOrEqual(1000 - 3 * Math.ceil(1000 / 16));
  });

  it('leases hits rather than querying per request: 1,000 requests cost a few dozen queries', async () => {
    const s = replica();
    const before = queries;
    for (let i = 0; i < 1000; i++) await hit(s, 'user:cheap', 100_000);
    expect(queries - before).toBeLessThan(60);
    // And a request granted from a lease reports its place in the count and the window's time left.
    const r = await hit(s, 'user:cheap', 100_000);
    expect(r.current).toBe(1001);
    expect(r.ttl).toBeGreaterThan(3_500_000);
  });

  it('a new window grants again; each route (child store) counts on its own', async () => {
    const s = replica();
    expect((await hit(s, 'user:w', 2, 300)).current).toBe(1);
    expect((await hit(s, 'user:w', 2, 300)).current).toBe(2);
    expect((await hit(s, 'user:w', 2, 300)).current).toBe(3); // over: refused by the plugin
    await waitFor(
      () => hit(s, 'user:w', 2, 300),
      (r) => r.current === 1,
      { message: 'the next window to start', intervalMs: 50 },
    );
    const root = new (postgresRateLimitStore(counted).Store)({} as never) as unknown as Store & { child(o: object): Store };
    const login = root.child({ routeInfo: { method: 'POST', url: '/v1/auth/login' } });
    const signup = root.child({ routeInfo: { method: 'POST', url: '/v1/auth/signup' } });
    expect((await hit(login, 'auth:1.2.3.4', 1)).current).toBe(1);
    expect((await hit(signup, 'auth:1.2.3.4', 1)).current).toBe(1);
    expect((await hit(login, 'auth:1.2.3.4', 1)).current).toBe(2);
  });
});

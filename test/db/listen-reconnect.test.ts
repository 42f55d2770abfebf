/**
 * The LISTEN connection on real Postgres: when the server drops it (a restart, a failover, an
 * idle timeout in between), the listener says so, connects again, and notifications arrive
 * again, without the process restarting. PGlite has no connection to lose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

let t: TestDatabase;

describe.runIf(TEST_DB === 'postgres')('the LISTEN connection', () => {
  beforeAll(async () => {
    t = await createTestDatabase('postgres');
  });
  afterAll(() => t?.drop());

  it('is re-established after the server drops it, and hears notifications again', async () => {
    const heard: string[] = [];
    const unlisten = await t.db.listen('trainyard_test_reconnect', (p) => heard.push(p));
    const states: boolean[] = [];
    const off = t.db.onListenerState!((up) => states.push(up));
    await t.db.query(`select pg_notify('trainyard_test_reconnect', 'before')`);
    await waitFor(
      () => heard,
      (h) => h.includes('before'),
      { message: 'the first notification' },
    );

    // The listener's backend: the only one of this database that ran LISTEN or UNLISTEN last.
    const listeners = async () =>
      (
        await t.db.query<{ pid: number }>(
          `select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query ~* '^\\s*(un)?listen '`,
        )
      ).rows.map((r) => r.pid);
    const [pid] = await listeners();
    expect(pid).toBeDefined();
    await t.db.query('select pg_terminate_backend($1)', [pid]);

    await waitFor(
      () => states,
      (s) => s.includes(false) && s.at(-1) === true,
      { message: 'down, then up again', timeoutMs: 15_000 },
    );
    expect(t.db.listening!()).toBe(true);
    const [again] = await listeners();
    expect(again).toBeDefined();
    expect(again).not.toBe(pid);
    await t.db.query(`select pg_notify('trainyard_test_reconnect', 'after')`);
    await waitFor(
      () => heard,
      (h) => h.includes('after'),
      { message: 'a notification on the new connection' },
    );
    off();
    await unlisten();
  });
});

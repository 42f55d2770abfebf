/**
 * The sweep cap is decided from the grid's shape alone: the product of the list lengths,
 * multiplied only until it passes the cap, before a single grid point exists.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogService } from '../../src/domain/catalog/service.js';
import type { JobsService } from '../../src/domain/jobs/service.js';
import { gridJobCount } from '../../src/domain/sweeps/aggregate.js';
import { MAX_SWEEP_JOBS, SweepsService } from '../../src/domain/sweeps/service.js';
import type { Db } from '../../src/db/db.js';

/** 50 values whose elements count every read: expanding the grid reads them, counting does not. */
function watched(reads: { n: number }, length = 50): unknown[] {
  return new Proxy(
    Array.from({ length }, (_, i) => i),
    {
      get(target, p, recv) {
        if (typeof p === 'string' && /^\d+$/.test(p)) reads.n++;
        return Reflect.get(target, p, recv);
      },
    },
  );
}

describe('gridJobCount', () => {
  it('is the product of the list lengths times the repeats', () => {
    expect(gridJobCount({ a: [1, 2], b: [1, 2, 3] }, 2, 200)).toBe(12);
    expect(gridJobCount({ a: [1] }, 1, 200)).toBe(1);
  });
  it('stops multiplying once past the cap, so a huge grid never overflows', () => {
    const keys = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, Array.from({ length: 50 }, (_, j) => j)]));
    const n = gridJobCount(keys, 20, 200);
    expect(n).toBeGreaterThan(200);
    expect(Number.isSafeInteger(n)).toBe(true);
    expect(n).toBeLessThanOrEqual(200 * 50);
  });
});

describe('SweepsService.create', () => {
  it('refuses a 6-key × 50-value grid with SWEEP_TOO_LARGE before reading a single grid value', async () => {
    const reads = { n: 0 };
    const grid = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [k, watched(reads)]));
    const fail = () => {
      throw new Error('nothing may be touched before the cap is checked');
    };
    const svc = new SweepsService({
      db: { transaction: fail, query: fail } as unknown as Db,
      jobs: { prepare: fail, insertPrepared: fail } as unknown as JobsService,
      catalog: { listTrainers: () => [] } as unknown as CatalogService,
    });
    const err = await svc.create('usr_x', { trainer: 'echo', dataset_id: 'ds_x', grid }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SWEEP_TOO_LARGE', status: 400 });
    expect((err as Error).message).toContain(`at most ${MAX_SWEEP_JOBS}`);
    expect(reads.n).toBe(0);
  });
});

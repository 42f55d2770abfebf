import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/db.js';
import type { CatalogService } from '../../src/domain/catalog/service.js';
import type { JobLifecycle } from '../../src/domain/jobs/lifecycle/index.js';
import type { JobRow } from '../../src/domain/jobs/types.js';
import { FsBlobStore } from '../../src/storage/fs.js';
import type { BaseModelCache } from '../../src/worker/model-cache.js';
import { JobRun } from '../../src/worker/run-job.js';

// Issue #13: staging now downloads the base model, which for a big one takes minutes. The
// attempt's lease, cancel and deadline must hold while it does, and stop the download.

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'trainyard-run-staging-'));
});
afterEach(async () => rm(root, { recursive: true, force: true }));

/** A job whose base model never finishes downloading, with the lifecycle calls it makes. */
function setup(o: { heartbeat: () => string | null; maxRuntimeSeconds?: number }) {
  const store = new FsBlobStore(path.join(root, 'store'), Buffer.alloc(32, 1));
  const calls: string[] = [];
  let heartbeats = 0;
  let download: AbortSignal | undefined;
  const models = {
    acquire: (_id: string, _prefix: string, signal?: AbortSignal) =>
      new Promise((_resolve, reject) => {
        download = signal;
        signal?.addEventListener('abort', () => reject(signal.reason as Error));
      }),
  } as unknown as BaseModelCache;
  const catalog = { baseModel: (id: string) => ({ id, source: `${store.uri('models/m')}/` }) } as unknown as CatalogService;
  const record = (name: string) => async () => {
    calls.push(name);
    return null;
  };
  const lifecycle = {
    heartbeat: async () => {
      heartbeats++;
      return o.heartbeat();
    },
    fail: record('fail'),
    cancelStopped: record('cancelStopped'),
    timeOut: record('timeOut'),
    handBack: record('handBack'),
  } as unknown as JobLifecycle;
  const db = { transaction: (fn: (tx: unknown) => Promise<unknown>) => fn({}) } as unknown as Db;
  const job = {
    id: 'job-1',
    owner_id: 'u',
    kind: 'training',
    trainer: 't',
    attempt: 1,
    dataset_id: null,
    validation_dataset_id: null,
    test_dataset_id: null,
    checkpoint: null,
    from_model: null,
    base_model: 'm',
    hyperparameters: {},
    max_runtime_seconds: o.maxRuntimeSeconds ?? 3600,
    attempt_started_at: new Date(),
  } as unknown as JobRow;
  const run = new JobRun(
    {
      db,
      store,
      catalog,
      models,
      lifecycle,
      maxArtifactBytes: 1e6,
      workerId: 'w',
      workDir: path.join(root, 'work'),
      python: 'python3',
      leaseSeconds: 0.3, // a heartbeat every 100 ms
      stopGraceMs: 0,
      log: pino({ level: 'silent' }),
    },
    job,
    [],
  );
  return { run, calls, heartbeats: () => heartbeats, download: () => download };
}

describe('an attempt staging its base model', () => {
  it('keeps its lease while the download runs, and a cancel stops the download', async () => {
    let status: string = 'running';
    const s = setup({ heartbeat: () => status });
    const done = s.run.run();
    await expect.poll(() => s.download()).toBeDefined();
    // Lease renewals while still staging: a long download keeps its claim.
    await expect.poll(() => s.heartbeats()).toBeGreaterThanOrEqual(2);
    expect(s.download()!.aborted).toBe(false);
    status = 'cancel_requested';
    await done;
    expect(s.download()!.aborted).toBe(true);
    expect(s.calls).toEqual(['cancelStopped']);
  });

  it('a lost lease stops the download and writes nothing', async () => {
    const s = setup({ heartbeat: () => null });
    await s.run.run();
    expect(s.download()!.aborted).toBe(true);
    expect(s.calls).toEqual([]);
  });

  it('running out of time while staging stops the download and times the job out', async () => {
    const s = setup({ heartbeat: () => 'running', maxRuntimeSeconds: 0.2 });
    await s.run.run();
    expect(s.download()!.aborted).toBe(true);
    expect(s.calls).toEqual(['timeOut']);
  });
});

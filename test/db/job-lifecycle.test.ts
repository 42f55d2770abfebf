/**
 * The state machine of states.ts, walked pair by pair against the real lifecycle on a real
 * database: every transition is tried from every state. Where TRANSITIONS allows it, it must
 * happen with exactly the side effects the table declares (credit move, status event, webhook
 * row, wake-up NOTIFY); everywhere else it must be refused and leave no trace at all.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS } from '../../src/db/channels.js';
import type { Queryable, Unlisten } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { loadConfig } from '../../src/config.js';
import { ALL_STATES, TRANSITIONS, type JobState, type TransitionName } from '../../src/domain/jobs/states.js';
import type { Fence, JobRow } from '../../src/domain/jobs/types.js';
import { createServices, type Services } from '../../src/services.js';
import { newJob } from '../helpers/claimed.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/wait.js';

let testDb: TestDatabase;
let s: Services;
let dataDir: string;
let ownerId: string;
const heard: Record<'jobs' | 'jobCancel', Set<string>> = { jobs: new Set(), jobCancel: new Set() };
const unlisten: Unlisten[] = [];

const WORKER = 'wkr_walk';
const fence = (j: JobRow): Fence => ({ jobId: j.id, workerId: WORKER, attempt: 1 });
const info = { primaryMetric: { name: 'score', goal: 'maximize' as const }, triggerWord: null };

/** How each transition is asked for, as its real caller asks. `label` isolates the claim to this job. */
const CALLS: Record<Exclude<TransitionName, 'enqueue'>, (tx: Queryable, j: JobRow, label: string) => Promise<JobRow | null>> = {
  claim: (tx, _j, label) => s.lifecycle.claim(tx, { workerId: WORKER, freeGpus: 0, labels: [label], leaseSeconds: 30, maxRunningPerUser: 1000 }),
  succeed: (tx, j) => s.lifecycle.succeedTraining(tx, fence(j), { metrics: { score: 1 } }, [], info),
  fail: (tx, j) => s.lifecycle.fail(tx, fence(j), { code: 'TRAINER_FAILED', message: 'boom' }),
  timeOut: (tx, j) => s.lifecycle.timeOut(tx, fence(j), 60),
  requestCancel: (tx, j) => s.lifecycle.requestCancel(tx, j.id),
  cancelQueued: (tx, j) => s.lifecycle.cancelQueued(tx, j.id),
  cancelStopped: (tx, j) => s.lifecycle.cancelStopped(tx, fence(j)),
  handBack: (tx, j) => s.lifecycle.handBack(tx, fence(j)),
  requeueInfrastructure: (tx, j) => s.lifecycle.retryInfrastructure(tx, fence(j), j, 'node lost'),
  requeueLost: (tx, j) => s.lifecycle.requeueLost(tx, j),
  failLost: (tx, j) => s.lifecycle.failLost(tx, j),
  cancelLost: (tx, j) => s.lifecycle.cancelLost(tx, j),
};

async function enqueue(label: string): Promise<JobRow> {
  const job = await testDb.db.transaction((tx) =>
    // A webhook URL makes every webhook a transition declares visible as a delivery row (no deliverer runs here).
    s.lifecycle.enqueue(tx, newJob(ownerId, label, { webhook_url: 'https://hooks.example.test/walk', cost: 3 })),
  );
  return job!;
}

/** Puts a job in `state` as the state machine would have left it there (claimed by WORKER for an active one). */
async function force(j: JobRow, state: JobState): Promise<JobRow> {
  const { rows } = await testDb.db.query<JobRow>(
    `update jobs set status = $2, worker_id = $3, attempt = 1, lease_expires_at = now() + interval '30 seconds',
            finished_at = case when $4 then now() end where id = $1 returning *`,
    [j.id, state, WORKER, ['succeeded', 'failed', 'cancelled'].includes(state)],
  );
  return rows[0]!;
}

interface Trace {
  status: string;
  statusEvents: string[];
  ledger: string[];
  webhooks: string[];
}
async function trace(jobId: string): Promise<Trace> {
  const db = testDb.db;
  const status = (await db.query<{ status: string }>('select status from jobs where id = $1', [jobId])).rows[0]!.status;
  const statusEvents = (
    await db.query<{ s: string }>("select data->>'status' as s from job_events where job_id = $1 and type = 'status' order by seq", [jobId])
  ).rows.map((r) => r.s);
  const ledger = (await db.query<{ type: string }>('select type from credit_ledger where job_id = $1 order by id', [jobId])).rows.map((r) => r.type);
  const webhooks = (
    await db.query<{ event_type: string }>('select event_type from webhook_deliveries where job_id = $1 order by created_at, id', [jobId])
  ).rows.map((r) => r.event_type);
  return { status, statusEvents, ledger, webhooks };
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-lifecycle-'));
  testDb = await createTestDatabase();
  await migrate(testDb.db);
  s = await createServices(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', TRAINER_PYTHON: path.join(dataDir, 'no-python') }), testDb.db);
  ownerId = (await s.accounts.signup({ username: 'walker', email: 'walker@example.com', password: 'a long enough password' })).id;
  await testDb.db.transaction((tx) => s.credits.grant(tx, ownerId, 10_000, 'test', null));
  for (const ch of ['jobs', 'jobCancel'] as const) unlisten.push(await testDb.db.listen(CHANNELS[ch], (id) => heard[ch].add(id)));
});

afterAll(async () => {
  for (const u of unlisten) await u();
  await s?.catalog.close();
  await testDb?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the transition table', () => {
  it('enqueue makes a queued job with its hold, its first status event and a wake-up for workers', async () => {
    const j = await enqueue('enqueue');
    expect(await trace(j.id)).toEqual({ status: 'queued', statusEvents: ['queued'], ledger: ['hold'], webhooks: [] });
    await until(() => heard.jobs.has(j.id), { message: 'enqueue NOTIFY' });
  });

  for (const [name, call] of Object.entries(CALLS) as Array<[Exclude<TransitionName, 'enqueue'>, (typeof CALLS)[keyof typeof CALLS]]>) {
    const t = TRANSITIONS[name];
    for (const from of ALL_STATES) {
      const allowed = t.from.includes(from);
      it(`${name} from ${from}: ${allowed ? `→ ${t.to}` : 'refused'}`, async () => {
        const label = `${name}-${from}`;
        const job = await force(await enqueue(label), from);
        // The enqueue's own wake-up first, so the one checked below is the transition's.
        await until(() => heard.jobs.has(job.id), { message: 'enqueue NOTIFY' });
        heard.jobs.delete(job.id);
        const before = await trace(job.id);
        const result = await testDb.db.transaction((tx) => call(tx, job, label));
        const after = await trace(job.id);
        if (!allowed) {
          expect(result).toBeNull();
          expect(after).toEqual(before);
          return;
        }
        expect(result?.status).toBe(t.to);
        expect(after.status).toBe(t.to);
        expect(after.statusEvents).toEqual([...before.statusEvents, t.to]);
        const move = { hold: 'hold', capture: 'capture', release: 'release' } as const;
        expect(after.ledger).toEqual(t.credits ? [...before.ledger, move[t.credits]] : before.ledger);
        expect(after.webhooks).toEqual(t.webhook ? [...before.webhooks, t.webhook] : before.webhooks);
        if (t.wake === 'jobs') await until(() => heard.jobs.has(job.id), { message: `${name} NOTIFY on ${CHANNELS.jobs}` });
        if (t.wake === 'cancel') await until(() => heard.jobCancel.has(job.id), { message: `${name} NOTIFY on ${CHANNELS.jobCancel}` });
      });
    }
  }

  it('credits: every hold is settled at most once, whatever order transitions are tried in', async () => {
    const j = await force(await enqueue('twice'), 'running');
    expect(await testDb.db.transaction((tx) => CALLS.succeed(tx, j, 'twice'))).not.toBeNull();
    for (const name of ['succeed', 'fail', 'cancelStopped', 'failLost', 'cancelQueued'] as const) {
      expect(await testDb.db.transaction((tx) => CALLS[name](tx, j, 'twice'))).toBeNull();
    }
    expect((await trace(j.id)).ledger).toEqual(['hold', 'capture']);
  });
});

/**
 * The Slurm executor when slurmrestd cannot be reached for a while. A stand-in answers for
 * slurmrestd here, scripted call by call: an outage and Slurm's purge of a finished job cannot
 * be produced on demand on the test cluster (its MinJobAge is 300 s), and everything else about
 * the executor runs against that real cluster in test/slurm. The database, the attempt token and
 * the launcher's report (none here) are real.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../../src/executors/executor.js';
import { SlurmExecutor } from '../../src/executors/slurm/executor.js';
import { SlurmError, type SlurmJobInfo, type SlurmRestClient } from '../../src/executors/slurm/rest.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { claimedJob } from '../helpers/claimed.js';
import { waitFor } from '../helpers/wait.js';

let t: TestApp;
let owner: string;
const SLURM_ID = 4242;
const down = () => new SlurmError('SLURM_UNAVAILABLE', 'connect ECONNREFUSED 127.0.0.1:6820');

/** slurmrestd, scripted: each call takes the next answer of its list (the last one repeats). */
function scripted(answers: { job: Array<SlurmJobInfo | null | Error>; signal?: Array<Error | null>; cancel?: Array<Error | null> }) {
  const calls: string[] = [];
  const next = <T>(list: T[] | undefined, fallback: T) => (list && list.length > 1 ? list.shift()! : (list?.[0] ?? fallback));
  const answer = async <T>(x: T | Error) => {
    if (x instanceof Error) throw x;
    return x;
  };
  const rest = {
    submit: async () => (calls.push('submit'), { jobId: SLURM_ID }),
    job: async () => (calls.push('job'), answer(next(answers.job, null))),
    signal: async () => (calls.push('signal'), answer(next(answers.signal, null))),
    cancel: async () => (calls.push('cancel'), answer(next(answers.cancel, null))),
  } as unknown as SlurmRestClient;
  return { rest, calls };
}

const running = (): SlurmJobInfo => ({
  jobId: SLURM_ID,
  state: 'RUNNING',
  stateFlags: [],
  reason: 'None',
  exitCode: null,
  signal: null,
  nodes: 'node1',
  restarts: 0,
  status: 'running',
  final: false,
  raw: {},
});

const claimed = () => claimedJob(t.testDb.db, t.rt.services.lifecycle, owner, 'wkr_slurm');

function executor(rest: SlurmRestClient) {
  const s = t.rt.services;
  return new SlurmExecutor(
    async () => rest,
    { apiUrl: 'http://127.0.0.1:1', launcher: ['trainyard'], workDir: '/tmp', python: 'python3', pollMs: 10 },
    { db: t.testDb.db, store: s.store, tokens: s.attemptTokens, maxArtifactBytes: 1 << 20 },
  );
}

/** The attempt's outcome, or a failure naming where it stayed when it does not end in time. */
async function ended(done: Promise<AttemptOutcome>, calls: string[]): Promise<AttemptOutcome> {
  let timer!: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the attempt never ended; calls: ${calls.slice(-6).join(', ')} (${calls.length})`)), 5000);
  });
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  t = await startTestApp({ env: { WORKER_IN_PROCESS: 'false' } });
  owner = (await client(t.url).user('slurm-outage')).id;
});
afterAll(() => t?.close());

describe('Slurm executor during a slurmrestd outage', () => {
  it('a job Slurm purged before any poll could see it (slurmrestd down meanwhile) ends the attempt instead of polling for ever', async () => {
    const { rest, calls } = scripted({ job: [down(), down(), down(), null] });
    const { job, fence } = await claimed();
    const a = executor(rest).start({ job, fence, gpus: [], log: pino({ level: 'silent' }), onLost: () => {} });
    const outcome = await ended(a.done, calls);
    expect(outcome).toMatchObject({ type: 'failed', error: { code: 'TRAINER_FAILED', message: expect.stringMatching(/ended UNKNOWN without a report/) } });
  });

  it('a stop slurmrestd could not take is asked again: SIGTERM, then the cancel after the grace', async () => {
    const { rest, calls } = scripted({
      job: [running()],
      signal: [down(), null],
      cancel: [down(), down(), null],
    });
    const { job, fence } = await claimed();
    const a = executor(rest).start({ job, fence, gpus: [], log: pino({ level: 'silent' }), onLost: () => {} });
    await waitFor(() => calls.includes('job'), Boolean, { message: 'the job submitted and polled' });
    a.stop(50);
    // Once the cancel went through, Slurm reports the job cancelled.
    const outcome = ended(a.done, calls);
    await waitFor(
      () => calls.filter((c) => c === 'cancel').length,
      (n) => n >= 3,
      { message: 'the third cancel' },
    );
    (rest as unknown as { job: () => Promise<SlurmJobInfo> }).job = async () => (
      calls.push('job'),
      { ...running(), state: 'CANCELLED', status: 'cancelled', final: true }
    );
    expect(await outcome).toEqual({ type: 'stopped' });
    expect(calls.filter((c) => c === 'signal')).toHaveLength(2);
    expect(calls.filter((c) => c === 'cancel')).toHaveLength(3);
  });
});

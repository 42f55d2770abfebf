import { describe, expect, it } from 'vitest';
import { statusOf } from '../../src/executors/slurm/rest.js';
import { dialectFor, pickVersion, type SlurmJobSpec } from '../../src/executors/slurm/version.js';

// The version-specific JSON of the Slurm REST client. v0.0.38 is also proven against a real
// slurmrestd (test/slurm); v0.0.39+ only here, from the published schemas.

const spec: SlurmJobSpec = {
  name: 'ty-1',
  script: '#!/bin/bash\nexit 0\n',
  workingDirectory: '/work',
  environment: { PATH: '/usr/bin:/bin', A: 'x=y' },
  gpus: 2,
  timeLimitMinutes: 30,
  stdout: '/work/out',
};

describe('Slurm REST versions', () => {
  it('picks the newest known version among the served paths', () => {
    expect(pickVersion(['/openapi', '/slurm/v0.0.36/ping', '/slurm/v0.0.38/ping', '/slurmdb/v0.0.38/jobs'])).toBe('v0.0.38');
    expect(pickVersion(['/slurm/v0.0.40/ping', '/slurm/v0.0.41/job/submit', '/slurm/v0.0.39/ping'])).toBe('v0.0.41');
    expect(pickVersion(['/slurm/v0.0.99/ping'])).toBeNull();
  });

  it('v0.0.38: environment object, minutes, gres, no requeue field (22.05 reads any as true)', () => {
    expect(dialectFor('v0.0.38').submitBody(spec)).toEqual({
      script: spec.script,
      job: {
        name: 'ty-1',
        current_working_directory: '/work',
        standard_output: '/work/out',
        environment: { PATH: '/usr/bin:/bin', A: 'x=y' },
        gres: 'gpu:2',
        time_limit: 30,
      },
    });
    expect((dialectFor('v0.0.38').submitBody({ ...spec, requeue: true }) as { job: object }).job).toMatchObject({ requeue: true });
  });

  it('v0.0.39+: KEY=value environment, set/number time limit, tres_per_node, requeue off', () => {
    expect(dialectFor('v0.0.40').submitBody({ ...spec, gpus: 0 })).toEqual({
      script: spec.script,
      job: {
        name: 'ty-1',
        current_working_directory: '/work',
        standard_output: '/work/out',
        requeue: false,
        environment: ['PATH=/usr/bin:/bin', 'A=x=y'],
        time_limit: { set: true, infinite: false, number: 30 },
      },
    });
    expect((dialectFor('v0.0.41').submitBody(spec) as { job: object }).job).toMatchObject({ tres_per_node: 'gres/gpu:2' });
  });

  it('reads v0.0.38 jobs: the raw wait status splits into exit code and signal', () => {
    const d = dialectFor('v0.0.38');
    expect(d.readJob({ job_id: 7, job_state: 'FAILED', state_reason: 'NonZeroExitCode', exit_code: 768, nodes: 'n1', restart_cnt: 0 })).toEqual({
      jobId: 7,
      state: 'FAILED',
      stateFlags: [],
      reason: 'NonZeroExitCode',
      exitCode: 3,
      signal: null,
      nodes: 'n1',
      restarts: 0,
    });
    expect(d.readJob({ job_id: 8, job_state: 'CANCELLED', exit_code: 15 })).toMatchObject({ exitCode: null, signal: 15 });
  });

  it('reads v0.0.40 jobs: state arrays with flags, exit_code objects', () => {
    const d = dialectFor('v0.0.40');
    const job = d.readJob({
      job_id: 9,
      job_state: ['COMPLETED', 'COMPLETING'],
      state_reason: 'None',
      exit_code: { status: ['SUCCESS'], return_code: { set: true, infinite: false, number: 0 }, signal: { id: { set: false, number: 0 }, name: '' } },
      nodes: 'n1',
      restart_cnt: 1,
    });
    expect(job).toEqual({ jobId: 9, state: 'COMPLETED', stateFlags: ['COMPLETING'], reason: 'None', exitCode: 0, signal: null, nodes: 'n1', restarts: 1 });
    const killed = d.readJob({
      job_id: 10,
      job_state: ['CANCELLED'],
      exit_code: { return_code: { set: true, number: 0 }, signal: { id: { set: true, number: 9 } } },
    });
    expect(killed).toMatchObject({ exitCode: null, signal: 9 });
  });

  it('maps Slurm states to the version-independent status', () => {
    const cases: Record<string, string> = {
      PENDING: 'pending',
      REQUEUED: 'pending',
      CONFIGURING: 'running',
      RUNNING: 'running',
      COMPLETING: 'running',
      COMPLETED: 'completed',
      FAILED: 'failed',
      CANCELLED: 'cancelled',
      TIMEOUT: 'timeout',
      DEADLINE: 'timeout',
      NODE_FAIL: 'node_fail',
      BOOT_FAIL: 'node_fail',
      PREEMPTED: 'preempted',
      OUT_OF_MEMORY: 'out_of_memory',
      SOMETHING_NEW: 'unknown',
    };
    for (const [state, status] of Object.entries(cases)) expect(statusOf(state), state).toBe(status);
  });
});

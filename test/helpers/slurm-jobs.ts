import { inject } from 'vitest';
import { SlurmRestClient, type SlurmJobInfo, type SlurmJobSpec } from '../../src/executors/slurm/rest.js';
import type { SlurmClusterInfo } from './slurm-cluster.js';
import { waitFor } from './wait.js';

/** What the slurm test files share: a client for the run's cluster and waits on job states. */

export function slurmInfo(): SlurmClusterInfo {
  return inject('slurm');
}

export function slurmClient(info = slurmInfo()): Promise<SlurmRestClient> {
  return SlurmRestClient.connect({ url: info.url, userName: info.userName, token: info.token, version: info.version });
}

/** A batch job of `body` (bash) with what every test job needs; `over` wins. */
export function jobSpec(name: string, body: string, over: Partial<SlurmJobSpec> = {}): SlurmJobSpec {
  const info = slurmInfo();
  return {
    name,
    script: `#!/bin/bash\n${body}\n`,
    workingDirectory: info.jobsDir,
    environment: { PATH: '/usr/bin:/bin' },
    timeLimitMinutes: 2,
    cpusPerTask: 1,
    ...over,
  };
}

/** The job once `done(job)` holds; a job that ended otherwise fails the wait at once. */
export function waitForSlurmJob(client: SlurmRestClient, jobId: number, done: (j: SlurmJobInfo) => boolean, timeoutMs = 20_000): Promise<SlurmJobInfo> {
  return waitFor(
    async () => (await client.job(jobId))!,
    (j) => {
      if (done(j)) return true;
      if (j.final) throw new Error(`Slurm job ${jobId} ended ${j.status} (${j.state}, ${j.reason}, exit ${j.exitCode})`);
      return false;
    },
    { timeoutMs, intervalMs: 100, message: `Slurm job ${jobId}` },
  );
}

/** The fields a test reports: what slurmrestd said, in its own words. */
export function rawState(j: SlurmJobInfo) {
  const { job_state, state_reason, exit_code, derived_exit_code, start_time, end_time } = j.raw;
  return { job_state, state_reason, exit_code, derived_exit_code, start_time, end_time };
}

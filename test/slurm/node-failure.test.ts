import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterProcesses, nodeState, slurmdPid, startSlurmd } from '../helpers/slurm-cluster.js';
import { jobSpec, rawState, slurmClient, slurmInfo, waitForSlurmJob } from '../helpers/slurm-jobs.js';
import { until, waitFor } from '../helpers/wait.js';

// A compute node that dies under a running job: slurmd SIGKILLed. Slurm only notices when the
// node misses its pings for SlurmdTimeout (4 s in the test cluster; ping rounds make it ~3-4x
// that), then ends the job NODE_FAIL with reason NodeDown: an infrastructure failure, not the
// trainer's. A job that allows requeueing (Slurm's default where JobRequeue=1) is not ended:
// it goes back to pending (restart_cnt 1, reason BeginTime) to rerun later on its own, which
// Trainyard must see and cancel. slurmd is restarted afterwards; the node comes back by itself
// (ReturnToService=2).

describe('slurmd killed mid-job', () => {
  it('is reported as node_fail, and the node serves the next job once slurmd is back', async () => {
    const info = slurmInfo();
    const client = await slurmClient();
    const marker = `started-nf-${Date.now()}`;
    const { jobId } = await client.submit(jobSpec('ty-node-fail', `touch ${marker}-$SLURM_JOB_ID\nsleep 300`));
    const requeued = await client.submit(jobSpec('ty-node-fail-requeue', `touch ${marker}-$SLURM_JOB_ID\nsleep 300`, { requeue: true }));
    for (const id of [jobId, requeued.jobId])
      await until(() => existsSync(path.join(info.jobsDir, `${marker}-${id}`)), { timeoutMs: 20_000, message: `job ${id} to start` });
    const before = clusterProcesses(info.dir);

    const pid = slurmdPid(info);
    expect(pid).not.toBeNull();
    process.kill(pid!, 'SIGKILL');
    const killedAt = Date.now();
    try {
      const job = await waitForSlurmJob(client, jobId, (j) => j.final, 60_000);
      const seenAfterMs = Date.now() - killedAt;
      expect(job).toMatchObject({ status: 'node_fail', state: 'NODE_FAIL', reason: 'NodeDown', restarts: 0 });
      console.warn(`slurm node failure seen ${seenAfterMs} ms after SIGKILL (SlurmdTimeout=${info.slurmdTimeoutS}s):`, JSON.stringify(rawState(job)));
      expect(nodeState(info)).toMatch(/^down/);
      const again = await waitForSlurmJob(client, requeued.jobId, (j) => j.restarts > 0, 10_000);
      // Reason None at first, BeginTime once the scheduler has looked at it again.
      expect(again).toMatchObject({ status: 'pending', state: 'PENDING', reason: expect.stringMatching(/^(None|BeginTime)$/), restarts: 1 });
      console.warn(
        'slurm requeued job after node failure:',
        JSON.stringify({ ...rawState(again), restart_cnt: again.raw.restart_cnt, eligible_time: again.raw.eligible_time }),
      );
      await client.cancel(requeued.jobId);
      expect(await waitForSlurmJob(client, requeued.jobId, (j) => j.final)).toMatchObject({ status: 'cancelled', restarts: 1 });
    } finally {
      const t = Date.now();
      await startSlurmd(info);
      console.warn(`slurmd restarted, node usable again after ${Date.now() - t} ms`);
    }
    // The restarted slurmd ends the orphaned step (slurmstepd and the script under it) that
    // Slurm had already given up on.
    expect(jobProcesses(before).filter((p) => p.endsWith(':slurmstepd'))).toHaveLength(2);
    await waitFor(
      () => jobProcesses(clusterProcesses(info.dir)),
      (left) => left.length === 0,
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        message: 'the orphaned job step to end',
      },
    );

    const next = await client.submit(jobSpec('ty-after-node-fail', 'exit 0', { gpus: 1 }));
    expect(await waitForSlurmJob(client, next.jobId, (j) => j.final, 30_000)).toMatchObject({ status: 'completed', exitCode: 0 });
  }, 120_000);
});

/** The processes of a job: its slurmstepd, the batch script's bash and its sleep. */
function jobProcesses(pids: number[]): string[] {
  const comm = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  return pids.map((p) => `${p}:${comm(p)}`).filter((p) => /:(slurmstepd|bash|sleep)$/.test(p));
}

import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlurmError, SlurmRestClient } from '../../src/executors/slurm/rest.js';
import { signSlurmToken } from '../../src/executors/slurm/token.js';
import { freePort } from '../helpers/pg-programs.js';
import { jobSpec, rawState, slurmClient, slurmInfo, waitForSlurmJob } from '../helpers/slurm-jobs.js';
import { until } from '../helpers/wait.js';

// The REST client against a real one-node cluster (test/helpers/slurm-cluster.ts): one fake GPU,
// two CPUs, jobs run as the unprivileged run user.

describe('slurmrestd client', () => {
  it('discovers the served OpenAPI version and pings the controller', async () => {
    const info = slurmInfo();
    const client = await SlurmRestClient.connect({ url: info.url, userName: info.userName, token: info.token });
    expect(client.version).toBe(info.version);
    const ping = await client.ping();
    expect(ping.release).toMatch(/^\d+\.\d+\.\d+/);
    expect(ping.controllers.some((c) => c.up)).toBe(true);
  });

  it('names its errors: refused token, nobody listening, unknown job', async () => {
    const info = slurmInfo();
    // A token signed with another key passes slurmrestd (SLURM_JWT=daemon hands it on) and
    // slurmctld refuses it: 22.05 answers HTTP 500 "Unspecified error" (error_number -1), which
    // says nothing about auth, so the client can only call it rejected.
    const forged = await signSlurmToken({ key: new Uint8Array(32), userName: info.userName });
    const bad = await SlurmRestClient.connect({ url: info.url, userName: info.userName, token: forged, version: info.version });
    await expect(bad.ping()).rejects.toMatchObject({ name: 'SlurmError', code: expect.stringMatching(/^SLURM_(AUTH|REJECTED)$/) });

    const nobody = await SlurmRestClient.connect({ url: `http://127.0.0.1:${await freePort()}`, userName: 'x', token: 'x', version: info.version });
    await expect(nobody.ping()).rejects.toMatchObject({ code: 'SLURM_UNAVAILABLE' });

    const client = await slurmClient();
    expect(await client.job(999_999)).toBeNull();
    const err = await client.submit(jobSpec('ty-bad-partition', 'exit 0', { partition: 'no-such-partition' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlurmError);
    expect((err as SlurmError).code).toBe('SLURM_REJECTED');
  });

  it('runs a batch script to completion with exit code 0, its environment and output', async () => {
    const client = await slurmClient();
    const out = path.join(slurmInfo().jobsDir, 'ok-%j.out');
    const { jobId } = await client.submit(
      jobSpec('ty-ok', 'echo "line 1 $GREETING"\necho "line 2 on $SLURM_JOB_NODELIST"\nexit 0', {
        stdout: out,
        environment: { PATH: '/usr/bin:/bin', GREETING: 'hello' },
      }),
    );
    const job = await waitForSlurmJob(client, jobId, (j) => j.final);
    expect(job).toMatchObject({ jobId, status: 'completed', state: 'COMPLETED', exitCode: 0, signal: null, reason: 'None', nodes: slurmInfo().nodeName });
    console.warn('slurm completed job:', JSON.stringify(rawState(job)));
    const text = readFileSync(out.replace('%j', String(jobId)), 'utf8');
    expect(text).toBe(`line 1 hello\nline 2 on ${slurmInfo().nodeName}\n`);
  });

  it('reports a script that exits 3 as failed with exit code 3', async () => {
    const client = await slurmClient();
    const { jobId } = await client.submit(jobSpec('ty-exit3', 'echo about to fail\nexit 3'));
    const job = await waitForSlurmJob(client, jobId, (j) => j.final);
    expect(job).toMatchObject({ status: 'failed', state: 'FAILED', exitCode: 3, signal: null, reason: 'NonZeroExitCode' });
    console.warn('slurm failed job:', JSON.stringify(rawState(job)));
  });

  it('queues a second 1-GPU job behind the first on the 1-GPU node (pending, reason Resources)', async () => {
    const client = await slurmClient();
    const dir = slurmInfo().jobsDir;
    const release = path.join(dir, `release-${Date.now()}`);
    // The first holds the GPU until the test lets it go: no timing in the test.
    const first = await client.submit(
      jobSpec('ty-gpu-1', `echo $CUDA_VISIBLE_DEVICES > gpu-first-$SLURM_JOB_ID\nwhile [ ! -e ${release} ]; do sleep 0.1; done`, { gpus: 1 }),
    );
    await waitForSlurmJob(client, first.jobId, (j) => j.status === 'running');
    const second = await client.submit(jobSpec('ty-gpu-2', 'echo second', { gpus: 1 }));
    const pending = await waitForSlurmJob(client, second.jobId, (j) => j.reason === 'Resources');
    expect(pending).toMatchObject({ status: 'pending', state: 'PENDING', reason: 'Resources' });
    console.warn('slurm pending job:', JSON.stringify(rawState(pending)));
    expect((await client.job(first.jobId))!.status).toBe('running');
    expect(readFileSync(path.join(dir, `gpu-first-${first.jobId}`), 'utf8').trim()).toBe('0');

    await writeFile(release, '');
    const a = await waitForSlurmJob(client, first.jobId, (j) => j.final);
    const b = await waitForSlurmJob(client, second.jobId, (j) => j.final);
    expect([a.status, b.status]).toEqual(['completed', 'completed']);
    expect(Number(b.raw.start_time)).toBeGreaterThanOrEqual(Number(a.raw.end_time));
  });

  it('cancel: Slurm sends SIGTERM first, the script checkpoints and exits, the job is cancelled', async () => {
    const client = await slurmClient();
    const dir = slurmInfo().jobsDir;
    // `wait` on a background sleep: bash runs a trap only between commands.
    const body = `trap 'echo checkpoint > ckpt-$SLURM_JOB_ID; exit 0' TERM\necho started > started-$SLURM_JOB_ID\nsleep 300 &\nwait $!`;
    const { jobId } = await client.submit(jobSpec('ty-cancel', body));
    await waitForSlurmJob(client, jobId, (j) => j.status === 'running');
    await until(() => existsSync(path.join(dir, `started-${jobId}`)), { timeoutMs: 10_000, message: 'the script to start' });
    await client.cancel(jobId);
    const job = await waitForSlurmJob(client, jobId, (j) => j.final);
    expect(job).toMatchObject({ status: 'cancelled', state: 'CANCELLED' });
    console.warn('slurm cancelled job:', JSON.stringify(rawState(job)));
    expect(readFileSync(path.join(dir, `ckpt-${jobId}`), 'utf8')).toBe('checkpoint\n');
    // Cancelling what has ended is not an error.
    await client.cancel(jobId);
  });

  it('signal SIGTERM only: the job ends as its script decides (trap, exit 0: completed)', async () => {
    const client = await slurmClient();
    const dir = slurmInfo().jobsDir;
    const body = `trap 'echo checkpoint > ckpt-$SLURM_JOB_ID; exit 0' TERM\necho started > started-$SLURM_JOB_ID\nsleep 300 &\nwait $!`;
    const { jobId } = await client.submit(jobSpec('ty-sigterm', body));
    await until(() => existsSync(path.join(dir, `started-${jobId}`)), { timeoutMs: 20_000, message: 'the script to start' });
    await client.signal(jobId, 'SIGTERM');
    const job = await waitForSlurmJob(client, jobId, (j) => j.final);
    expect(job).toMatchObject({ status: 'completed', exitCode: 0 });
    console.warn('slurm SIGTERMed job:', JSON.stringify(rawState(job)));
    expect(readFileSync(path.join(dir, `ckpt-${jobId}`), 'utf8')).toBe('checkpoint\n');
  });
});

import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { classify, disruptionOf } from '../../src/executors/kubernetes/classify.js';
import { attemptName } from '../../src/executors/kubernetes/manifest.js';

// The Job and pod statuses a real API server produced for each case (recorded by
// test/k8s/job-contract.test.ts against the kwok cluster), and what the executor makes of them
// when the launcher did not report.

const job = (type?: string, reason?: string): V1Job => ({ status: type ? { conditions: [{ type, status: 'True', reason, message: 'm' }] } : {} });
const pod = (status: V1Pod['status'], deletion = false): V1Pod => ({ metadata: deletion ? { deletionTimestamp: new Date() } : {}, status });
const terminated = (exitCode: number, reason: string): V1Pod['status'] => ({
  phase: 'Failed',
  containerStatuses: [{ name: 'trainer', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } }],
});

describe('Kubernetes outcomes without a launcher report', () => {
  it('OOMKilled and disruptions are the machine’s; an exit code and a deadline are the attempt’s', () => {
    expect(classify(job('Failed', 'BackoffLimitExceeded'), pod(terminated(137, 'OOMKilled')), null)).toMatchObject({
      kind: 'infrastructure',
      message: expect.stringMatching(/OOM-killed/),
    });
    expect(classify(job('Failed', 'BackoffLimitExceeded'), pod(terminated(143, 'Error')), 'the pod was disrupted (EvictionByEvictionAPI: x)')).toMatchObject({
      kind: 'infrastructure',
    });
    expect(classify(job('Failed', 'BackoffLimitExceeded'), pod(terminated(3, 'Error')), null)).toMatchObject({
      kind: 'failed',
      code: 'TRAINER_FAILED',
      message: expect.stringMatching(/exit code 3/),
    });
    expect(classify(job('Failed', 'DeadlineExceeded'), null, null)).toMatchObject({ kind: 'failed', code: 'TIMEOUT' });
    expect(classify(job('Complete', 'CompletionsReached'), pod({ phase: 'Succeeded' }), null)).toEqual({ kind: 'succeeded' });
    expect(classify(null, null, null)).toMatchObject({ kind: 'infrastructure' });
  });

  it('a pod that waits is pending, with the scheduler’s reason', () => {
    const unschedulable = pod({
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
          lastTransitionTime: new Date(1000),
        },
      ],
    });
    expect(classify(job(), unschedulable, null)).toEqual({
      kind: 'pending',
      reason: 'Unschedulable: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
      since: 1000,
    });
    const pull = pod({
      phase: 'Pending',
      containerStatuses: [
        { name: 'trainer', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } } },
      ],
    });
    expect(classify(job(), pull, null)).toMatchObject({ kind: 'pending', reason: 'ImagePullBackOff: not found' });
    expect(classify(job(), pod({ phase: 'Running' }), null)).toEqual({ kind: 'running' });
    expect(
      disruptionOf(
        pod({ phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API' }] }),
      ),
    ).toMatch(/EvictionByEvictionAPI/);
  });

  it('names objects within DNS-1123 and 63 characters', () => {
    expect(attemptName({ id: 'job_936m3zqcggh8a4r4g9bj', attempt: 2 })).toBe('ty-job-936m3zqcggh8a4r4g9bj-a2');
    const long = attemptName({ id: `job_${'X'.repeat(80)}`, attempt: 12 });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9-]+-a12$/);
  });
});

/**
 * What a Job and its pod say about an attempt whose launcher did not report: the machine's
 * fault (retry from the checkpoint) or the attempt's (fail the job). Pure, so each case is
 * tested on the shapes a real API server produced (test/k8s/job-contract.test.ts records them).
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';

export type PodVerdict =
  | { kind: 'running' }
  | { kind: 'pending'; reason: string; since: number | null }
  | { kind: 'infrastructure'; message: string }
  | { kind: 'failed'; code: 'TIMEOUT' | 'TRAINER_FAILED'; message: string }
  | { kind: 'succeeded' };

const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError']);

const ended = (job: V1Job | null, type: 'Complete' | 'Failed') => job?.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/**
 * `disrupted`: this executor saw a DisruptionTarget condition or a deletion it did not ask for
 * on an earlier look (kwok and the kubelet rewrite the status once the pod has ended).
 */
export function classify(job: V1Job | null, pod: V1Pod | null, disrupted: string | null, now = Date.now()): PodVerdict {
  const failed = ended(job, 'Failed');
  if (failed?.reason === 'DeadlineExceeded')
    return { kind: 'failed', code: 'TIMEOUT', message: `the Job's activeDeadlineSeconds ended it (${failed.message ?? ''})` };
  const term = pod?.status?.containerStatuses?.[0]?.state?.terminated;
  if (term?.reason === 'OOMKilled') return { kind: 'infrastructure', message: `the container was OOM-killed (exit ${term.exitCode})` };
  if (disrupted) return { kind: 'infrastructure', message: disrupted };
  if (pod?.status?.reason === 'Evicted' || pod?.status?.reason === 'Preempting')
    return { kind: 'infrastructure', message: `the pod was ${pod.status.reason.toLowerCase()}: ${pod.status.message ?? ''}` };
  if (ended(job, 'Complete') || pod?.status?.phase === 'Succeeded') return { kind: 'succeeded' };
  if (term || failed || pod?.status?.phase === 'Failed') {
    const code = term?.exitCode;
    return {
      kind: 'failed',
      code: 'TRAINER_FAILED',
      message: `the launcher's container ended ${code !== undefined ? `with exit code ${code}` : (failed?.reason ?? 'Failed')}`,
    };
  }
  if (!pod)
    return job && !failed
      ? { kind: 'pending', reason: 'no pod yet', since: null }
      : { kind: 'infrastructure', message: 'the Job or its pod was deleted outside Trainyard' };
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
  if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) return { kind: 'pending', reason: `${waiting.reason}: ${waiting.message ?? ''}`, since: null };
  const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unschedulable)
    return {
      kind: 'pending',
      reason: `${unschedulable.reason ?? 'Unschedulable'}: ${unschedulable.message ?? ''}`,
      since: unschedulable.lastTransitionTime ? new Date(unschedulable.lastTransitionTime).getTime() : now,
    };
  if (pod.status?.phase === 'Running') return { kind: 'running' };
  return { kind: 'pending', reason: pod.status?.phase ?? 'Pending', since: null };
}

/** A disruption seen on a live pod: remembered, since the status is rewritten once it ends. */
export function disruptionOf(pod: V1Pod | null): string | null {
  const c = pod?.status?.conditions?.find((x) => x.type === 'DisruptionTarget' && x.status === 'True');
  if (c) return `the pod was disrupted (${c.reason ?? 'DisruptionTarget'}: ${c.message ?? ''})`;
  return null;
}

/**
 * The Kubernetes objects of one attempt: a Secret with the attempt token and a `batch/v1` Job
 * whose one container is the launcher. No retries inside Kubernetes (backoffLimit 0: Trainyard
 * retries, one attempt at a time), a deadline past the job's own (the worker's comes first),
 * and the finished Job kept for `ttlSeconds` so a person can look at it.
 */
import type { V1Job, V1Secret } from '@kubernetes/client-node';
import type { JobRow } from '../../domain/jobs/types.js';

export interface ManifestConfig {
  image: string;
  namespace: string;
  labels: Record<string, string>;
  podAnnotations: Record<string, string>;
  gpuProduct: string | null;
  tolerations: Array<Record<string, unknown>>;
  ttlSeconds: number;
}

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'trainyard' };

/** DNS-1123 and at most 63 characters: `ty-<job id>-a<attempt>`. */
export function attemptName(job: Pick<JobRow, 'id' | 'attempt'>): string {
  const id = job.id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const suffix = `-a${job.attempt}`;
  return `ty-${id}`.slice(0, 63 - suffix.length).replace(/-+$/, '') + suffix;
}

export function attemptLabels(c: ManifestConfig, job: Pick<JobRow, 'id' | 'attempt'>): Record<string, string> {
  return {
    ...c.labels,
    ...MANAGED_BY,
    'trainyard.dev/job': job.id
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '-')
      .slice(0, 63),
    'trainyard.dev/attempt': String(job.attempt),
  };
}

export function tokenSecret(c: ManifestConfig, job: JobRow, token: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: attemptName(job), namespace: c.namespace, labels: attemptLabels(c, job) },
    type: 'Opaque',
    stringData: { TRAINYARD_ATTEMPT_TOKEN: token },
  };
}

export function attemptJob(c: ManifestConfig, job: JobRow, argv: string[]): V1Job {
  const name = attemptName(job);
  const labels = attemptLabels(c, job);
  const gpu = job.gpus > 0;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: c.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: job.max_runtime_seconds + 120,
      ttlSecondsAfterFinished: c.ttlSeconds,
      template: {
        metadata: { labels, annotations: c.podAnnotations },
        spec: {
          restartPolicy: 'Never',
          ...(gpu && c.gpuProduct ? { nodeSelector: { [GPU_PRODUCT_LABEL]: c.gpuProduct } } : {}),
          ...(c.tolerations.length ? { tolerations: c.tolerations } : {}),
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'trainer',
              image: c.image,
              command: argv,
              // The token from the Secret, never in the Job's own spec.
              envFrom: [{ secretRef: { name } }],
              // An extended resource: the request defaults to the limit and must equal it.
              ...(gpu ? { resources: { limits: { [GPU_RESOURCE]: String(job.gpus) } } } : {}),
            },
          ],
        },
      },
    },
  };
}

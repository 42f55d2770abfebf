import { FINAL_STATUSES, type Job } from '../../api/types';

export const isActive = (j: Pick<Job, 'status'> | undefined) => !!j?.status && !FINAL_STATUSES.includes(j.status);

/** The model a training job produces (output.model_name), or null (inference jobs). */
export function modelName(j: Pick<Job, 'output'>): string | null {
  const n = (j.output as { model_name?: unknown } | null | undefined)?.model_name;
  return typeof n === 'string' ? n : null;
}

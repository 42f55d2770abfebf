/**
 * The document's words for a job's state. It says TRAINING in /loras/me and PROCESSING in
 * /training/{id}/status for the same state: each endpoint gets its own word. A cancelled job
 * is FAILED (the document has no other end).
 */
export function loraStatus(job: string | null): 'PENDING' | 'TRAINING' | 'COMPLETED' | 'FAILED' {
  if (job === null || job === 'queued') return 'PENDING';
  if (job === 'running' || job === 'cancel_requested') return 'TRAINING';
  return job === 'succeeded' ? 'COMPLETED' : 'FAILED';
}

export function trainingStatus(job: string | null): 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' {
  const s = loraStatus(job);
  return s === 'TRAINING' ? 'PROCESSING' : s;
}

/** Progress in percent (0-100, whole numbers): 100 once completed. */
export function progressOf(r: { job_status: string | null; progress: number | null }): number {
  if (r.job_status === 'succeeded') return 100;
  return Math.max(0, Math.min(100, Math.floor((r.progress ?? 0) * 100)));
}

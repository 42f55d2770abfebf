import type { Job } from '../../api/types';
import { fmtDuration } from '../../lib/format';
import type { LiveState } from '../../lib/live';
import { Badge, ProgressBar } from '../ui';
import { isActive } from './job';
import type { LiveProgress } from './useJobStream';

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  ended: 'Stream ended',
};

/**
 * Where the job stands: its status and the stream's, its place in the queue while it waits, then
 * its progress (live events first, the job's last reading otherwise), and why it ended early.
 */
export function JobProgress({ job, live, state }: { job: Job; live: LiveProgress | null; state: { s: LiveState; detail?: string } }) {
  const status = job.status ?? 'queued';
  const active = isActive(job);
  const fraction = status === 'succeeded' ? 1 : live ? Math.min(1, live.step / Math.max(1, live.total_steps)) : (job.progress?.fraction ?? 0);
  const step = live?.step ?? job.progress?.step ?? null;
  const total = live?.total_steps ?? job.progress?.total_steps ?? null;
  const epoch = live?.epoch ?? job.progress?.epoch ?? null;
  const eta = job.progress?.eta_seconds;
  return (
    <>
      <div className="row">
        <Badge status={status} />
        <span data-testid="job-status" className="visually-hidden">
          {status}
        </span>
        <p role="status" aria-live="polite" className={`live-state ${state.s}`} data-state={state.s}>
          {state.s === 'ended' && state.detail
            ? `Live updates unavailable (${state.detail})`
            : state.s === 'ended' && !active
              ? 'Finished'
              : LIVE_TEXT[state.s]}
        </p>
      </div>

      {status === 'queued' && (
        <div className="notice" role="status" data-testid="queue">
          <p>
            Waiting in the queue:{' '}
            {job.queue_position == null
              ? 'position unknown'
              : job.queue_position === 0
                ? 'next to run'
                : `${job.queue_position} job${job.queue_position === 1 ? '' : 's'} ahead`}{' '}
            <span className="muted">(approximate: the queue is shared fairly between users)</span>.
          </p>
          <p>
            {job.estimated_duration_seconds == null
              ? 'No run-time estimate yet: this trainer has no finished runs here and no catalog figure.'
              : `Expected run time: ${fmtDuration(job.estimated_duration_seconds)}${job.estimate_source === 'history' ? ' (from recent runs here)' : " (the trainer's estimate)"}.`}
          </p>
        </div>
      )}

      {status !== 'queued' && (
        <ProgressBar
          value={fraction}
          label="Training progress"
          detail={
            <span data-testid="progress-detail">
              {step != null && total != null ? `step ${step} / ${total}` : ''}
              {epoch != null ? ` · epoch ${epoch}${live?.total_epochs ? ` / ${live.total_epochs}` : ''}` : ''}
              {active && eta != null ? ` · about ${fmtDuration(eta)} left` : ''}
            </span>
          }
        />
      )}

      {status === 'failed' && job.error && (
        <div className="error" role="alert">
          <strong>The job failed: </strong>
          {job.error.message} {job.error.code && <code>({job.error.code})</code>}
        </div>
      )}
      {status === 'cancelled' && <p className="notice">This job was cancelled{job.error?.message ? `: ${job.error.message}` : ''}.</p>}
    </>
  );
}

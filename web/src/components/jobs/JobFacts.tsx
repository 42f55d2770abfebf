import { Link } from 'wouter';
import { api, must } from '../../api/client';
import type { Job } from '../../api/types';
import { fmtDate } from '../../lib/format';
import { useAsync } from '../../lib/use-async';
import { modelName } from './job';

/** The job's facts: trainer, the model it makes, where it came from, and when it ran. */
export function JobFacts({ job }: { job: Job }) {
  const id = job.id!;
  const status = job.status ?? 'queued';
  const name = modelName(job);
  return (
    <section className="card" aria-labelledby="facts-h">
      <h2 id="facts-h">Details</h2>
      <dl className="facts">
        <dt>Trainer</dt>
        <dd>{job.trainer}</dd>
        {name && (
          <>
            <dt>Model</dt>
            <dd>
              {status === 'succeeded' ? (
                <ModelLink name={name} jobId={id} />
              ) : (
                <>
                  {name} <span className="muted">(made when the job succeeds)</span>
                </>
              )}
            </dd>
          </>
        )}
        {job.from_model && (
          <>
            <dt>Retrained from</dt>
            <dd>
              <Link href={`/models/${encodeURIComponent(job.from_model.name ?? '')}`}>
                {job.from_model.name} v{job.from_model.version}
              </Link>
            </dd>
          </>
        )}
        {job.dataset_id && (
          <>
            <dt>Dataset</dt>
            <dd>
              <Link href={`/datasets/${encodeURIComponent(job.dataset_id)}`}>
                <code>{job.dataset_id}</code>
              </Link>
            </dd>
          </>
        )}
        {job.sweep_id && (
          <>
            <dt>Sweep</dt>
            <dd>
              <Link href={`/sweeps/${encodeURIComponent(job.sweep_id)}`}>
                <code>{job.sweep_id}</code>
              </Link>
            </dd>
          </>
        )}
        <dt>Created</dt>
        <dd>{fmtDate(job.created_at)}</dd>
        <dt>Started</dt>
        <dd>{fmtDate(job.started_at)}</dd>
        <dt>Finished</dt>
        <dd>{fmtDate(job.finished_at)}</dd>
        <dt>Attempt</dt>
        <dd>
          {job.attempt} of {job.max_attempts}
        </dd>
      </dl>
    </section>
  );
}

/** The version this job made, found by its job id among the model's versions. */
function ModelLink({ name, jobId }: { name: string; jobId: string }) {
  const versions = useAsync(() => must(api.GET('/v1/models/{name}/versions', { params: { path: { name } } })), [name]);
  const v = versions.data?.data?.find((x) => (x as { job_id?: unknown }).job_id === jobId);
  return (
    <Link href={`/models/${encodeURIComponent(name)}`}>
      {name}
      {v ? ` version ${v.version}` : ''}
    </Link>
  );
}

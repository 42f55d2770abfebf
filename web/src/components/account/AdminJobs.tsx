import { useState } from 'react';
import { Link } from 'wouter';
import { api, must } from '../../api/client';
import type { Job, JobStatus as AnyStatus, Trainer } from '../../api/types';

type JobStatus = NonNullable<AnyStatus>;
import { fmtCredits, fmtDate } from '../../lib/format';
import { Badge, ErrorNote } from '../ui';
import { LoadMore } from './LoadMore';
import { usePaged } from './paged';
import { TableWrap } from './TableWrap';

// Every job status, checked against the API's enum: one it adds breaks the build until listed.
const STATUSES: Record<JobStatus, true> = { queued: true, running: true, cancel_requested: true, succeeded: true, failed: true, cancelled: true };

function modelName(j: Job): string | null {
  const name = j.output && typeof j.output.model_name === 'string' ? j.output.model_name : null;
  return name;
}

/** Every owner's jobs (GET /v1/jobs?scope=all), filtered by status and trainer. */
export function AdminJobs({ trainers }: { trainers: Trainer[] }) {
  const [status, setStatus] = useState<JobStatus | ''>('');
  const [trainer, setTrainer] = useState('');
  const jobs = usePaged<Job>(
    (cursor) =>
      must(
        api.GET('/v1/jobs', {
          params: { query: { scope: 'all', limit: 50, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}), ...(trainer ? { trainer } : {}) } },
        }),
      ),
    [status, trainer],
  );
  return (
    <>
      <div className="filters" role="group" aria-label="Filter jobs">
        <div>
          <label htmlFor="admin-job-status">Status</label>
          <select id="admin-job-status" value={status} onChange={(e) => setStatus(e.target.value as JobStatus | '')}>
            <option value="">Any</option>
            {Object.keys(STATUSES).map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="admin-job-trainer">Trainer</label>
          <select id="admin-job-trainer" value={trainer} onChange={(e) => setTrainer(e.target.value)}>
            <option value="">Any</option>
            {trainers.map((t) => (
              <option key={t.id} value={t.id}>
                {t.id}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={jobs.reload}>
          Refresh jobs
        </button>
      </div>
      <ErrorNote error={jobs.error} title="Could not load the jobs" />
      {jobs.items.length === 0 && !jobs.loading && !jobs.error ? (
        <p className="notice">No jobs{status || trainer ? ' match these filters' : ' yet'}.</p>
      ) : (
        <TableWrap label="Jobs table">
          <table data-testid="admin-jobs">
            <caption className="visually-hidden">Every owner’s jobs</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Trainer</th>
                <th scope="col">Status</th>
                <th scope="col">Model</th>
                <th scope="col" className="num">
                  Cost
                </th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
              </tr>
            </thead>
            <tbody>
              {jobs.items.map((j) => (
                <tr key={j.id}>
                  <td>{j.id && <Link href={`/jobs/${encodeURIComponent(j.id)}`}>{j.id}</Link>}</td>
                  <td>{j.trainer}</td>
                  <td>{j.status && <Badge status={j.status} />}</td>
                  <td>{modelName(j) ?? <span className="muted">—</span>}</td>
                  <td className="num">{fmtCredits(j.cost)}</td>
                  <td>{fmtDate(j.created_at)}</td>
                  <td>{fmtDate(j.finished_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore list={jobs} what={['job', 'jobs']} />
    </>
  );
}

import { useState } from 'react';
import { Link } from 'wouter';
import { api, ApiError, must } from '../api/client';
import type { Job } from '../api/types';
import { isActive } from '../components/jobs/job';
import { JobCharts } from '../components/jobs/JobCharts';
import { JobCredits } from '../components/jobs/JobCredits';
import { JobFacts } from '../components/jobs/JobFacts';
import { JobProgress } from '../components/jobs/JobProgress';
import { LogTail } from '../components/jobs/LogTail';
import { ResultView } from '../components/jobs/ResultView';
import { Samples } from '../components/jobs/Samples';
import { REFRESH_MS, useJobStream } from '../components/jobs/useJobStream';
import { Page } from '../components/Page';
import { Confirm, ErrorNote, Loading } from '../components/ui';
import { fmtCredits, fmtDate } from '../lib/format';
import { useAsync, useInterval } from '../lib/use-async';
import '../styles/jobs.css';

export default function JobDetail({ id }: { id: string }) {
  const job = useAsync(() => must(api.GET('/v1/jobs/{id}', { params: { path: { id } } })), [id]);
  if (!job.data) {
    if (job.error) {
      const notFound = job.error instanceof ApiError && job.error.status === 404;
      return (
        <Page title={notFound ? 'Job not found' : 'Job'}>
          <ErrorNote error={job.error} />
          <p>
            <Link href="/jobs">Back to your jobs</Link>
          </p>
        </Page>
      );
    }
    return (
      <Page title="Job">
        <Loading what="Loading the job" />
      </Page>
    );
  }
  return <JobView key={id} job={job.data} reload={job.reload} set={job.set} error={job.error} />;
}

function JobView({ job, reload, set, error }: { job: Job; reload: () => void; set: (j: Job) => void; error: unknown }) {
  const id = job.id!;
  const { reports, live, logs, checkpoints, state, samplesTick, ledgerTick, bumpLedger, refresh } = useJobStream(id, reload);

  const status = job.status ?? 'queued';
  const active = isActive(job);
  // Queue position and the estimate move without events: read them again while the job waits.
  useInterval(refresh, REFRESH_MS, status === 'queued');

  const samples = useAsync(async () => (await must(api.GET('/v1/jobs/{id}/samples', { params: { path: { id } } }))).data ?? [], [id, samplesTick]);
  const ledger = useAsync(
    async () => (await must(api.GET('/v1/credits/transactions', { params: { query: { job_id: id, limit: 20 } } }))).data ?? [],
    [id, ledgerTick],
  );
  const balance = useAsync(() => must(api.GET('/v1/credits/balance')), [ledgerTick]);

  const [confirm, setConfirm] = useState(false);
  const [cancelError, setCancelError] = useState<unknown>();
  const cancel = async () => {
    setConfirm(false);
    setCancelError(undefined);
    try {
      set(await must(api.POST('/v1/jobs/{id}/cancel', { params: { path: { id } } })));
      bumpLedger();
    } catch (e) {
      setCancelError(e);
    }
  };

  return (
    <Page
      title={`Job ${id}`}
      actions={
        active && status !== 'cancel_requested' ? (
          <button type="button" className="danger" onClick={() => setConfirm(true)}>
            Cancel job
          </button>
        ) : undefined
      }
    >
      <Confirm open={confirm} title="Cancel this job?" confirmLabel="Cancel job" danger onConfirm={() => void cancel()} onClose={() => setConfirm(false)}>
        <p>
          The trainer stops and no model version is made. The {fmtCredits(job.cost)} held for it {job.cost === 1 ? 'is' : 'are'} refunded.
        </p>
      </Confirm>
      <ErrorNote error={cancelError} title="Cancelling failed" />
      <ErrorNote error={error} title="Refreshing the job failed" />

      <JobProgress job={job} live={live} state={state} />

      <div className="job-summary">
        <JobFacts job={job} />
        <JobCredits job={job} balance={balance.data} ledger={ledger.data} error={ledger.error ?? balance.error} />
      </div>

      <JobCharts reports={reports} active={active} />

      {(samples.data?.length ?? 0) > 0 && (
        <section aria-labelledby="samples-h">
          <h2 id="samples-h">Samples</h2>
          <Samples samples={samples.data!} />
        </section>
      )}
      <ErrorNote error={samples.error} />

      {job.result && (
        <section aria-labelledby="result-h">
          <h2 id="result-h">Result</h2>
          <ResultView result={job.result} />
        </section>
      )}

      <section aria-labelledby="log-h">
        <h2 id="log-h">Log</h2>
        <LogTail lines={logs} />
      </section>

      {checkpoints.length > 0 && (
        <section aria-labelledby="ckpt-h">
          <h2 id="ckpt-h">Checkpoints</h2>
          <ul>
            {checkpoints.map((c) => (
              <li key={c.seq}>
                step {c.step} <span className="muted">· {fmtDate(c.at)}</span>
              </li>
            ))}
          </ul>
        </section>
      )}

      <details>
        <summary>Hyperparameters</summary>
        <pre>{JSON.stringify(job.hyperparameters ?? {}, null, 2)}</pre>
      </details>
    </Page>
  );
}

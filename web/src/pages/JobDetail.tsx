import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'wouter';
import { api, ApiError, must } from '../api/client';
import type { Job, JobEvent, Ok } from '../api/types';
import { isActive, modelName } from '../components/jobs/job';
import { LogTail, mergeLines, toLogLine, type LogLine } from '../components/jobs/LogTail';
import { isAccuracy, isLoss, seriesOf, toReport, xAxis, type MetricReport } from '../components/jobs/metrics';
import { ResultView } from '../components/jobs/ResultView';
import { LineChart } from '../components/LineChart';
import { Page } from '../components/Page';
import { Badge, Confirm, ErrorNote, Loading, ProgressBar } from '../components/ui';
import { fmtCredits, fmtDate, fmtDuration } from '../lib/format';
import { followJob, type LiveState } from '../lib/live';
import { useAsync, useInterval } from '../lib/use-async';
import '../styles/jobs.css';

type Sample = NonNullable<Ok<'/v1/jobs/{id}/samples', 'get'>['data']>[number];
type Transaction = NonNullable<Ok<'/v1/credits/transactions', 'get'>['data']>[number];

interface LiveProgress {
  step: number;
  total_steps: number;
  epoch?: number;
  total_epochs?: number;
}

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  ended: 'Stream ended',
};

/** How often the job itself is read again while it runs (ETA, queue position), at most. */
const REFRESH_MS = 3000;

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
  const [reports, setReports] = useState<MetricReport[]>([]);
  const [live, setLive] = useState<LiveProgress | null>(null);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [checkpoints, setCheckpoints] = useState<{ seq: number; step: number; at: string }[]>([]);
  const [state, setState] = useState<{ s: LiveState; detail?: string }>({ s: 'connecting' });
  const [samplesTick, setSamplesTick] = useState(0);
  const [ledgerTick, setLedgerTick] = useState(0);
  const lastRefresh = useRef(0);

  const refresh = useCallback(() => {
    lastRefresh.current = Date.now();
    reload();
  }, [reload]);

  // The first log lines at once (the stream replays them too: merged by event number).
  useEffect(() => {
    let on = true;
    must(api.GET('/v1/jobs/{id}/logs', { params: { path: { id }, query: { tail: 200 } } })).then(
      (r) => {
        if (!on) return;
        const lines = (r.data ?? []).flatMap((d) => {
          const l = typeof d.seq === 'number' ? toLogLine(d.seq, d) : null;
          return l ? [l] : [];
        });
        setLogs((old) => mergeLines(old, lines));
      },
      () => {},
    );
    return () => {
      on = false;
    };
  }, [id]);

  // Every event from the first: charts, progress, log, checkpoints; resumes by itself after a drop.
  useEffect(() => {
    const onEvents = (events: JobEvent[]) => {
      const newReports: MetricReport[] = [];
      const newLines: LogLine[] = [];
      const newCheckpoints: { seq: number; step: number; at: string }[] = [];
      let progress: LiveProgress | null = null;
      let statusChanged = false;
      let sampled = false;
      for (const e of events) {
        const d = e.data;
        if (e.type === 'metrics') {
          const r = toReport(e.seq, d);
          if (r) newReports.push(r);
        } else if (e.type === 'progress' && typeof d.step === 'number' && typeof d.total_steps === 'number') {
          progress = {
            step: d.step,
            total_steps: d.total_steps,
            ...(typeof d.epoch === 'number' ? { epoch: d.epoch } : {}),
            ...(typeof d.total_epochs === 'number' ? { total_epochs: d.total_epochs } : {}),
          };
        } else if (e.type === 'log') {
          const l = toLogLine(e.seq, d, e.created_at);
          if (l) newLines.push(l);
        } else if (e.type === 'checkpoint' && typeof d.step === 'number') {
          newCheckpoints.push({ seq: e.seq, step: d.step, at: e.created_at });
        } else if (e.type === 'sample') sampled = true;
        else if (e.type === 'status' || e.type === 'result') statusChanged = true;
      }
      if (newReports.length) setReports((old) => [...old, ...newReports.filter((r) => !old.some((o) => o.seq === r.seq))]);
      if (newLines.length) setLogs((old) => mergeLines(old, newLines));
      if (newCheckpoints.length) setCheckpoints((old) => [...old, ...newCheckpoints.filter((c) => !old.some((o) => o.seq === c.seq))]);
      if (progress) setLive(progress);
      if (sampled) setSamplesTick((t) => t + 1);
      if (statusChanged) {
        setLedgerTick((t) => t + 1);
        refresh();
      } else if (progress && Date.now() - lastRefresh.current > REFRESH_MS) refresh();
    };
    return followJob(id, { after: 0, onEvents, onState: (s, detail) => setState({ s, ...(detail ? { detail } : {}) }) });
  }, [id, refresh]);

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

  const x = xAxis(reports);
  const lossSeries = useMemo(() => seriesOf(reports, isLoss, x), [reports, x]);
  const accSeries = useMemo(() => seriesOf(reports, isAccuracy, x), [reports, x]);

  const fraction = status === 'succeeded' ? 1 : live ? Math.min(1, live.step / Math.max(1, live.total_steps)) : (job.progress?.fraction ?? 0);
  const step = live?.step ?? job.progress?.step ?? null;
  const total = live?.total_steps ?? job.progress?.total_steps ?? null;
  const epoch = live?.epoch ?? job.progress?.epoch ?? null;
  const eta = job.progress?.eta_seconds;
  const name = modelName(job);

  const [confirm, setConfirm] = useState(false);
  const [cancelError, setCancelError] = useState<unknown>();
  const cancel = async () => {
    setConfirm(false);
    setCancelError(undefined);
    try {
      set(await must(api.POST('/v1/jobs/{id}/cancel', { params: { path: { id } } })));
      setLedgerTick((t) => t + 1);
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

      <div className="job-summary">
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
        <section className="card" aria-labelledby="credits-h">
          <h2 id="credits-h">Credits</h2>
          <p data-testid="job-credits">
            {active
              ? `${fmtCredits(job.cost)} held while the job runs`
              : status === 'succeeded'
                ? `${fmtCredits(job.cost)} charged`
                : `${fmtCredits(job.cost)} refunded`}
          </p>
          {balance.data && (
            <p>
              Your balance: <strong data-testid="balance">{fmtCredits(balance.data.balance)}</strong>
              {balance.data.held ? <span className="muted"> ({fmtCredits(balance.data.held)} held by unfinished jobs)</span> : null}
            </p>
          )}
          <Ledger entries={ledger.data} />
          <ErrorNote error={ledger.error ?? balance.error} />
        </section>
      </div>

      <section aria-labelledby="charts-h">
        <h2 id="charts-h">Metrics</h2>
        {reports.length === 0 ? (
          <p className="muted">{active ? 'No metrics reported yet.' : 'This job reported no metrics.'}</p>
        ) : (
          <div className="grid">
            {lossSeries.length > 0 && <LineChart title="Loss" xLabel={x} series={lossSeries} />}
            {accSeries.length > 0 && <LineChart title="Accuracy" xLabel={x} series={accSeries} />}
          </div>
        )}
      </section>

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

function Samples({ samples }: { samples: Sample[] }) {
  return (
    <div className="thumbs samples">
      {samples.map((s) => (
        <figure key={s.n}>
          <img src={s.url} alt={`Sample ${s.n} at step ${s.step}: ${s.prompt}`} width={160} height={160} loading="lazy" />
          <figcaption>
            #{s.n} · step {s.step}
            <br />
            {s.prompt}
          </figcaption>
        </figure>
      ))}
    </div>
  );
}

function Ledger({ entries }: { entries: Transaction[] | undefined }) {
  if (!entries || entries.length === 0) return null;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Credit entries of this job</caption>
        <thead>
          <tr>
            <th scope="col">Entry</th>
            <th scope="col" className="num">
              Credits
            </th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((t) => (
            <tr key={t.id} data-type={t.type}>
              <td>{t.type}</td>
              <td className="num">{t.credits}</td>
              <td>{fmtDate(t.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

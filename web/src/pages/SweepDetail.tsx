import { useState } from 'react';
import { Link } from 'wouter';
import { api, ApiError, must } from '../api/client';
import type { Sweep } from '../api/types';
import { goalOf } from '../components/jobs/metrics';
import { Page } from '../components/Page';
import { SpreadChart } from '../components/sweeps/SpreadChart';
import { fmtFigure, fmtParam, pointLabel, pointsOf, sameParams, sweepActive } from '../components/sweeps/sweep';
import { Badge, Confirm, ErrorNote, Loading } from '../components/ui';
import { fmtCredits, fmtDate } from '../lib/format';
import { useAsync, useInterval } from '../lib/use-async';
import '../styles/jobs.css';

export default function SweepDetail({ id }: { id: string }) {
  const sweep = useAsync(() => must(api.GET('/v1/sweeps/{id}', { params: { path: { id } } })), [id]);
  useInterval(sweep.reload, 3000, !!sweep.data && sweepActive(sweep.data));
  if (!sweep.data) {
    const notFound = sweep.error instanceof ApiError && sweep.error.status === 404;
    return (
      <Page title={notFound ? 'Sweep not found' : 'Sweep'}>
        {sweep.error ? <ErrorNote error={sweep.error} /> : <Loading what="Loading the sweep" />}
        {!!sweep.error && (
          <p>
            <Link href="/sweeps">Back to your sweeps</Link>
          </p>
        )}
      </Page>
    );
  }
  return <SweepView sweep={sweep.data} set={sweep.set} error={sweep.error} />;
}

function SweepView({ sweep, set, error }: { sweep: Sweep; set: (s: Sweep) => void; error: unknown }) {
  const id = sweep.id!;
  const points = pointsOf(sweep);
  const grid = (sweep.grid ?? {}) as Record<string, unknown[]>;
  const keys = Object.keys(grid).sort();
  const repeats = Number(sweep.repeats ?? 1);
  const names = [...new Set(points.flatMap((p) => Object.keys(p.metrics)))].sort();
  const sweepMetric = String(sweep.metric ?? names[0] ?? '');
  const [metric, setMetric] = useState(sweepMetric);
  const goal = metric === sweepMetric && (sweep.metric_goal === 'minimize' || sweep.metric_goal === 'maximize') ? sweep.metric_goal : goalOf(metric);
  const best = (sweep.best ?? null) as { params?: Record<string, unknown> } | null;
  // The best on the chosen metric: the sweep's own choice for its metric, else the best mean.
  const scored = points.filter((p) => p.metrics[metric]);
  const bestPoint =
    metric === sweepMetric
      ? points.find((p) => sameParams(p.params, best?.params))
      : [...scored].sort((a, b) => (goal === 'minimize' ? 1 : -1) * (a.metrics[metric]!.mean - b.metrics[metric]!.mean))[0];
  const counts = (sweep.job_counts ?? {}) as Record<string, number>;
  const notes = sweep.notes ?? [];
  const active = sweepActive(sweep);
  const modelName = typeof sweep.model_name === 'string' ? sweep.model_name : null;

  const [confirm, setConfirm] = useState(false);
  const [cancelError, setCancelError] = useState<unknown>();
  const cancel = async () => {
    setConfirm(false);
    setCancelError(undefined);
    try {
      set(await must(api.POST('/v1/sweeps/{id}/cancel', { params: { path: { id } } })));
    } catch (e) {
      setCancelError(e);
    }
  };

  return (
    <Page
      title={`Sweep ${id}`}
      actions={
        sweep.status === 'running' ? (
          <button type="button" className="danger" onClick={() => setConfirm(true)}>
            Cancel sweep
          </button>
        ) : undefined
      }
    >
      <Confirm open={confirm} title="Cancel this sweep?" confirmLabel="Cancel sweep" danger onConfirm={() => void cancel()} onClose={() => setConfirm(false)}>
        <p>Every unfinished job of the sweep is cancelled and its credits refunded; finished ones keep their results.</p>
      </Confirm>
      <ErrorNote error={cancelError} title="Cancelling failed" />
      <ErrorNote error={error} title="Refreshing the sweep failed" />
      <div className="row">
        <Badge status={sweep.status ?? 'unknown'} />
        <span role="status" className="muted" data-testid="sweep-progress">
          {Object.entries(counts)
            .map(([s, n]) => `${n} ${s.replace('_', ' ')}`)
            .join(', ')}
        </span>
      </div>
      <dl className="facts">
        <dt>Trainer</dt>
        <dd>{String(sweep.trainer ?? '')}</dd>
        <dt>Grid</dt>
        <dd>
          {keys.map((k) => `${k}: ${(grid[k] ?? []).map(fmtParam).join(', ')}`).join('; ')} × {repeats} repeat{repeats === 1 ? '' : 's'}
        </dd>
        <dt>Ranked by</dt>
        <dd>
          {sweepMetric} ({sweep.metric_goal === 'minimize' ? 'lower' : 'higher'} is better)
        </dd>
        {modelName && (
          <>
            <dt>Model</dt>
            <dd>
              <Link href={`/models/${encodeURIComponent(modelName)}`}>{modelName}</Link>
            </dd>
          </>
        )}
        <dt>Cost</dt>
        <dd>{fmtCredits(typeof sweep.cost === 'number' ? sweep.cost : null)}</dd>
        <dt>Created</dt>
        <dd>{fmtDate(typeof sweep.created_at === 'string' ? sweep.created_at : null)}</dd>
      </dl>
      {notes.length > 0 && (
        <div className="notice">
          <ul>
            {notes.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </div>
      )}

      {names.length > 1 && (
        <p>
          <label htmlFor="sweep-metric">Compare by</label>
          <select id="sweep-metric" value={metric} onChange={(e) => setMetric(e.target.value)}>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
                {n === sweepMetric ? ' (the sweep’s metric)' : ''}
              </option>
            ))}
          </select>
        </p>
      )}

      <section aria-labelledby="points-h">
        <h2 id="points-h">Grid points</h2>
        <div className="table-wrap">
          <table className="sweep-table">
            <caption className="visually-hidden">Each grid point with its runs and {metric} over its repeats; the best is marked</caption>
            <thead>
              <tr>
                {keys.map((k) => (
                  <th key={k} scope="col">
                    {k}
                  </th>
                ))}
                <th scope="col">Runs</th>
                <th scope="col" className="num">
                  {metric} mean ± std
                </th>
                <th scope="col" className="num">
                  min – max
                </th>
              </tr>
            </thead>
            <tbody>
              {points.map((p) => {
                const m = p.metrics[metric];
                const isBest = p === bestPoint;
                return (
                  <tr key={pointLabel(p.params)} className={isBest ? 'best-row' : ''} data-best={isBest || undefined}>
                    {keys.map((k, i) =>
                      i === 0 ? (
                        <th key={k} scope="row" className={isBest ? 'best' : ''}>
                          {fmtParam(p.params[k])}
                          {isBest && <span className="visually-hidden"> (best)</span>}
                          {isBest && <span aria-hidden="true"> ★</span>}
                        </th>
                      ) : (
                        <td key={k}>{fmtParam(p.params[k])}</td>
                      ),
                    )}
                    <td>
                      {p.completed} of {repeats} done
                      <ul className="plain">
                        {p.jobs.map((j) => (
                          <li key={j.id}>
                            <Link href={`/jobs/${encodeURIComponent(j.id)}`}>run {(j.repeat ?? 0) + 1}</Link> <Badge status={j.status} />
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td className={`num${isBest ? ' best' : ''}`} data-testid="mean-std">
                      {m ? `${fmtFigure(m.mean)} ± ${fmtFigure(m.std)}` : <span className="muted">—</span>}
                    </td>
                    <td className="num">{m ? `${fmtFigure(m.min)} – ${fmtFigure(m.max)}` : <span className="muted">—</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>

      {scored.length > 0 && (
        <SpreadChart
          title={`${metric} per grid point: mean (dot) and range over the repeats (line)`}
          rows={scored.map((p) => {
            const m = p.metrics[metric]!;
            return { label: pointLabel(p.params), mean: m.mean, std: m.std, min: m.min, max: m.max, n: m.values.length, best: p === bestPoint };
          })}
        />
      )}
      {active && scored.length === 0 && <p className="muted">Figures appear as the runs finish.</p>}
    </Page>
  );
}

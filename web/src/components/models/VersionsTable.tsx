import { Link } from 'wouter';
import type { Job, Model, Ok } from '../../api/types';
import { fmtDate, fmtNumber } from '../../lib/format';
import { goalOf } from '../jobs/metrics';

export type Version = NonNullable<Ok<'/v1/models/{name}/versions', 'get'>['data']>[number];

export const numericMetrics = (v: Version): Record<string, number> =>
  Object.fromEntries(Object.entries(v.metrics ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));

/** Every metric name any version has: the model's primary metric first, then by name. */
export function metricNames(versions: Version[], primary: string | null | undefined): string[] {
  const names = [...new Set(versions.flatMap((v) => Object.keys(numericMetrics(v))))].sort();
  return primary && names.includes(primary) ? [primary, ...names.filter((n) => n !== primary)] : names;
}

/** The versions side by side: one column per metric, the best value of each column marked. */
export function VersionsTable({ model, versions, jobs }: { model: Model; versions: Version[]; jobs: Map<string, Job> }) {
  const names = metricNames(versions, model.primary_metric);
  const declared = { metric: model.primary_metric, goal: model.metric_goal };
  const best = new Map<string, number>();
  for (const n of names) {
    const values = versions.map((v) => numericMetrics(v)[n]).filter((x): x is number => x !== undefined);
    if (values.length) best.set(n, goalOf(n, declared) === 'minimize' ? Math.min(...values) : Math.max(...values));
  }
  const aliasesOf = (version: number | undefined) =>
    Object.entries(model.aliases ?? {})
      .filter(([, v]) => v === version)
      .map(([a]) => a)
      .sort();
  return (
    <div className="table-wrap">
      <table className="versions-table">
        <caption className="visually-hidden">Versions of {model.name} with their metrics; the best value of each metric is marked</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Aliases</th>
            <th scope="col">Lineage</th>
            <th scope="col">Created</th>
            {names.map((n) => (
              <th key={n} scope="col" className="num">
                {n}
                {n === model.primary_metric ? (
                  <span className="muted"> (primary, {goalOf(n, declared) === 'minimize' ? 'lower' : 'higher'} is better)</span>
                ) : (
                  ''
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => {
            const m = numericMetrics(v);
            const jobId = typeof v.job_id === 'string' ? v.job_id : null;
            const job = jobId ? jobs.get(jobId) : undefined;
            return (
              <tr key={v.version} data-version={v.version}>
                <th scope="row">v{v.version}</th>
                <td>{aliasesOf(v.version).join(', ') || <span className="muted">—</span>}</td>
                <td>
                  {jobId ? (
                    <Link href={`/jobs/${encodeURIComponent(jobId)}`}>
                      job <code>{jobId}</code>
                    </Link>
                  ) : (
                    <span className="muted">no job</span>
                  )}
                  {job?.from_model ? (
                    <>
                      {' '}
                      · from{' '}
                      <Link href={`/models/${encodeURIComponent(job.from_model.name ?? '')}`}>
                        {job.from_model.name} v{job.from_model.version}
                      </Link>
                    </>
                  ) : v.parent_version_id ? (
                    <span className="muted"> · retrained from an earlier version</span>
                  ) : null}
                  {typeof v.dataset_id === 'string' && (
                    <>
                      {' '}
                      · <Link href={`/datasets/${encodeURIComponent(v.dataset_id)}`}>dataset</Link>
                    </>
                  )}
                </td>
                <td>{fmtDate(typeof v.created_at === 'string' ? v.created_at : null)}</td>
                {names.map((n) => {
                  const isBest = m[n] !== undefined && best.get(n) === m[n] && versions.length > 1;
                  return (
                    <td key={n} className={`num${isBest ? ' best' : ''}`} data-metric={n}>
                      {m[n] === undefined ? <span className="muted">—</span> : fmtNumber(m[n])}
                      {isBest && <span className="visually-hidden"> (best)</span>}
                      {isBest && <span aria-hidden="true"> ★</span>}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

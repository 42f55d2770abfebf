import { useState } from 'react';
import { Link } from 'wouter';
import { api, must } from '../api/client';
import type { Model } from '../api/types';
import { Page } from '../components/Page';
import { Badge, ErrorNote, Loading } from '../components/ui';
import { fmtDate, fmtNumber } from '../lib/format';
import { useAsync } from '../lib/use-async';
import '../styles/jobs.css';

const LIMIT = 20;

/** Your models: trainer, versions, the primary metric of the latest and the best version, visibility. */
export default function Models() {
  const [page, setPage] = useState(1);
  const models = useAsync(() => must(api.GET('/v1/models', { params: { query: { page, limit: LIMIT } } })), [page]);
  const data = models.data?.data ?? [];
  return (
    <Page title="Models">
      <ErrorNote error={models.error} />
      {!models.data && !models.error ? (
        <Loading what="Loading models" />
      ) : data.length === 0 && page === 1 ? (
        <p className="notice">
          No models yet: a training job that succeeds makes one. <Link href="/jobs/new">Start a training job</Link>.
        </p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your models</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Trainer</th>
                <th scope="col" className="num">
                  Versions
                </th>
                <th scope="col">Primary metric</th>
                <th scope="col" className="num">
                  Latest
                </th>
                <th scope="col" className="num">
                  Best
                </th>
                <th scope="col">Visibility</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {data.map((m) => (
                <ModelRow key={m.name} m={m} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(page > 1 || models.data?.has_more) && (
        <nav className="row" aria-label="Pages of models">
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Previous page
          </button>
          <span>Page {page}</span>
          <button type="button" disabled={!models.data?.has_more} onClick={() => setPage(page + 1)}>
            Next page
          </button>
        </nav>
      )}
    </Page>
  );
}

const metricOf = (v: unknown, metric: string | null | undefined) => {
  const m = (v as { metrics?: Record<string, unknown> } | null | undefined)?.metrics;
  return metric && m ? m[metric] : undefined;
};

function ModelRow({ m }: { m: Model }) {
  const latest = m.latest_version as { version?: number } | null | undefined;
  const bestNo = m.aliases?.best;
  // The best version's figure, read only when it is not the latest (which the list carries).
  const best = useAsync(
    async () =>
      bestNo !== undefined && bestNo !== latest?.version && m.primary_metric
        ? metricOf(await must(api.GET('/v1/models/{name}/versions/{v}', { params: { path: { name: m.name!, v: String(bestNo) } } })), m.primary_metric)
        : metricOf(latest, m.primary_metric),
    [m.name, bestNo, latest?.version, m.primary_metric],
  );
  return (
    <tr>
      <th scope="row">
        <Link href={`/models/${encodeURIComponent(m.name ?? '')}`}>{m.name}</Link>
      </th>
      <td>{m.trainer}</td>
      <td className="num">{m.version_count}</td>
      <td>{m.primary_metric ?? '—'}</td>
      <td className="num">
        {fmtNumber(metricOf(latest, m.primary_metric))}
        {latest?.version ? <span className="muted"> (v{latest.version})</span> : null}
      </td>
      <td className="num">
        {fmtNumber(best.data)}
        {bestNo !== undefined ? <span className="muted"> (v{bestNo})</span> : null}
      </td>
      <td>
        <Badge status={m.visibility ?? 'private'} />
      </td>
      <td>{fmtDate(m.updated_at)}</td>
    </tr>
  );
}

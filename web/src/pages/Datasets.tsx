import { useState } from 'react';
import { Link, useLocation } from 'wouter';
import { api, must } from '../api/client';
import type { Dataset } from '../api/types';
import { DatasetBadge } from '../components/datasets/DatasetBadge';
import { SAMPLES, readStats, type SampleKind } from '../components/datasets/model';
import { NewDatasetForm } from '../components/datasets/NewDatasetForm';
import { Page } from '../components/Page';
import { ErrorNote, Loading } from '../components/ui';
import { fmtDate, fmtNumber } from '../lib/format';
import { useAsync, useInterval } from '../lib/use-async';
import '../styles/datasets.css';

const PAGE = 50;

function size(d: Dataset): string {
  const s = readStats(d.stats).size;
  if (s) return `${fmtNumber(s.value)} ${s.value === 1 ? s.unit.replace(/s$/, '') : s.unit}`;
  return `${fmtNumber(d.file_count)} file${d.file_count === 1 ? '' : 's'}`;
}

/** The sample-data buttons: one synthetic dataset each, then its page. */
function Samples() {
  const [, navigate] = useLocation();
  const [busy, setBusy] = useState<SampleKind | null>(null);
  const [error, setError] = useState<unknown>();
  const create = async (kind: SampleKind) => {
    setBusy(kind);
    setError(undefined);
    try {
      const ds = await must(api.POST('/v1/datasets/samples', { body: { kind } }));
      navigate(`/datasets/${encodeURIComponent(ds.id!)}`);
    } catch (err) {
      setError(err);
      setBusy(null);
    }
  };
  return (
    <section className="card samples" aria-labelledby="samples-title">
      <h2 id="samples-title">Try a sample</h2>
      <p className="help">Synthetic data made on the server in a few seconds, to try a trainer before bringing your own.</p>
      <ul className="sample-list">
        {SAMPLES.map((s) => (
          <li key={s.kind}>
            <button type="button" onClick={() => void create(s.kind)} disabled={busy !== null} aria-describedby={`sample-${s.kind}-help`}>
              {busy === s.kind ? 'Creating…' : s.label}
            </button>
            <p className="help" id={`sample-${s.kind}-help`}>
              {s.help}
            </p>
          </li>
        ))}
      </ul>
      <p role="status" className="muted">
        {busy ? `Creating the ${busy} sample…` : ''}
      </p>
      <ErrorNote error={error} title="The sample was not created" />
    </section>
  );
}

export default function Datasets() {
  const [extra, setExtra] = useState<Dataset[]>([]);
  // Undefined until "Show more" is used: the first page's own next_cursor until then. The first
  // page's refresh (below) must not touch what "Show more" added, nor where it goes on from.
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [moreError, setMoreError] = useState<unknown>();
  const list = useAsync(() => must(api.GET('/v1/datasets', { params: { query: { limit: PAGE } } })), []);
  const first = list.data?.data ?? [];
  const next = cursor === undefined ? (list.data?.next_cursor ?? null) : cursor;
  const rows = [...first, ...extra.filter((e) => !first.some((d) => d.id === e.id))];
  // Keep the first page fresh while something on it is still being validated.
  useInterval(
    list.reload,
    2000,
    first.some((d) => d.status === 'processing'),
  );

  const more = async () => {
    if (!next) return;
    setMoreError(undefined);
    try {
      const p = await must(api.GET('/v1/datasets', { params: { query: { limit: PAGE, cursor: next } } }));
      setExtra((x) => [...x, ...(p.data ?? [])]);
      setCursor(p.next_cursor ?? null);
    } catch (err) {
      setMoreError(err);
    }
  };

  return (
    <Page
      title="Datasets"
      actions={
        <a className="button primary" href="#new-dataset-title">
          New dataset
        </a>
      }
    >
      <section aria-labelledby="your-datasets">
        <h2 id="your-datasets" className="visually-hidden">
          Your datasets
        </h2>
        {list.data === undefined && list.loading ? (
          <Loading what="Loading your datasets" />
        ) : list.error && list.data === undefined ? (
          <ErrorNote error={list.error} />
        ) : rows.length === 0 ? (
          <p className="notice">No datasets yet. Try a sample below, or upload your own files.</p>
        ) : (
          <div className="table-wrap">
            <table className="datasets-table">
              <caption className="visually-hidden">Your datasets, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <Link href={`/datasets/${encodeURIComponent(d.id!)}`}>{d.name}</Link>
                    </td>
                    <td>
                      <code>{d.kind}</code>
                    </td>
                    <td>
                      <DatasetBadge status={d.status} />
                      {d.status === 'error' && d.error_count ? (
                        <span className="muted">
                          {' '}
                          {d.error_count} problem{d.error_count === 1 ? '' : 's'}
                        </span>
                      ) : null}
                    </td>
                    <td className="num">{size(d)}</td>
                    <td>{fmtDate(d.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {list.error && list.data !== undefined ? <ErrorNote error={list.error} title="Could not refresh the list" /> : null}
        {next && (
          <p>
            <button type="button" onClick={() => void more()}>
              Show more datasets
            </button>
          </p>
        )}
        <ErrorNote error={moreError} />
      </section>
      <Samples />
      <NewDatasetForm />
    </Page>
  );
}

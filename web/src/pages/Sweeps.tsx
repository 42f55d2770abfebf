import { useState } from 'react';
import { Link } from 'wouter';
import { api, must } from '../api/client';
import type { Sweep } from '../api/types';
import { Page } from '../components/Page';
import { fmtParam, pointLabel, sweepActive } from '../components/sweeps/sweep';
import { Badge, ErrorNote, Loading } from '../components/ui';
import { fmtDate } from '../lib/format';
import { useAsync, useInterval } from '../lib/use-async';
import '../styles/jobs.css';

const PAGE = 20;

/** Your sweeps, newest first, with their best grid point; refreshed while any runs. */
export default function Sweeps() {
  const first = useAsync(() => must(api.GET('/v1/sweeps', { params: { query: { limit: PAGE } } })), []);
  const [more, setMore] = useState<Sweep[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const sweeps = [...(first.data?.data ?? []), ...more.filter((m) => !first.data?.data?.some((s) => s.id === m.id))];
  const next = cursor === undefined ? first.data?.next_cursor : cursor;
  useInterval(first.reload, 3000, (first.data?.data ?? []).some(sweepActive));

  const loadMore = async () => {
    if (!next) return;
    setBusy(true);
    try {
      const p = await must(api.GET('/v1/sweeps', { params: { query: { limit: PAGE, cursor: next } } }));
      setMore((m) => [...m, ...(p.data ?? [])]);
      setCursor(p.next_cursor ?? null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Sweeps">
      <p className="help">A sweep trains every combination of a grid of hyperparameters, each repeated, and compares them (POST /v1/sweeps).</p>
      <ErrorNote error={first.error ?? error} />
      {!first.data && !first.error ? (
        <Loading what="Loading sweeps" />
      ) : sweeps.length === 0 ? (
        <p className="notice">No sweeps yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your sweeps, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Sweep</th>
                <th scope="col">Status</th>
                <th scope="col">Trainer</th>
                <th scope="col">Grid</th>
                <th scope="col">Metric</th>
                <th scope="col">Best point</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {sweeps.map((s) => {
                const grid = (s.grid ?? {}) as Record<string, unknown[]>;
                const metric = String(s.metric ?? '');
                const best = s.best as Record<string, unknown> | null | undefined;
                const bestValue = best?.[metric];
                return (
                  <tr key={s.id}>
                    <td>
                      <Link href={`/sweeps/${encodeURIComponent(s.id ?? '')}`}>
                        <code>{s.id}</code>
                      </Link>
                    </td>
                    <td>
                      <Badge status={s.status ?? 'unknown'} />
                    </td>
                    <td>{String(s.trainer ?? '')}</td>
                    <td>
                      {Object.entries(grid)
                        .map(([k, v]) => `${k}: ${v.map(fmtParam).join(', ')}`)
                        .join('; ')}
                      <span className="muted"> × {String(s.repeats ?? 1)}</span>
                    </td>
                    <td>{metric}</td>
                    <td>
                      {best ? (
                        <>
                          {pointLabel((best.params ?? {}) as Record<string, unknown>)}
                          {typeof bestValue === 'number' ? <span className="muted"> ({bestValue.toPrecision(3)})</span> : null}
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td>{fmtDate(typeof s.created_at === 'string' ? s.created_at : null)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <p>
          <button type="button" onClick={() => void loadMore()} disabled={busy}>
            {busy ? 'Loading…' : 'Load more'}
          </button>
        </p>
      )}
    </Page>
  );
}

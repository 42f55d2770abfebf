import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api, must } from '../api/client';
import type { Job, JobStatus, Ok } from '../api/types';
import { isActive, modelName } from '../components/jobs/job';
import { Page } from '../components/Page';
import { Badge, ErrorNote, Loading } from '../components/ui';
import { fmtCredits, fmtDate } from '../lib/format';
import { useAsync, useInterval } from '../lib/use-async';
import '../styles/jobs.css';

const PAGE = 25;
type JobPage = Ok<'/v1/jobs', 'get'>;
const STATUSES = ['queued', 'running', 'cancel_requested', 'succeeded', 'failed', 'cancelled'] as const satisfies readonly NonNullable<JobStatus>[];
type Status = (typeof STATUSES)[number];
const isStatus = (s: string | null): s is Status => !!s && (STATUSES as readonly string[]).includes(s);

/** Your jobs, newest first: filters in the address (?status=, ?trainer=), "Load more", live while any job is active. */
export default function Jobs() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const status = isStatus(params.get('status')) ? (params.get('status') as Status) : undefined;
  const trainer = params.get('trainer') || undefined;

  const trainers = useAsync(() => must(api.GET('/v1/trainers')), []);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [more, setMore] = useState(false);
  const gen = useRef(0);

  /**
   * The first `count` jobs again: a refresh keeps what "Load more" added, page after page (the
   * API gives at most 100 a page), and the cursor goes on after the last of them.
   */
  const load = useCallback(
    async (count: number) => {
      const mine = ++gen.current;
      try {
        const rows: Job[] = [];
        let next: string | null = null;
        do {
          const limit = Math.min(100, Math.max(PAGE, count - rows.length));
          const page: JobPage = await must(api.GET('/v1/jobs', { params: { query: { limit, status, trainer, ...(next ? { cursor: next } : {}) } } }));
          if (gen.current !== mine) return;
          rows.push(...(page.data ?? []).filter((j) => !rows.some((x) => x.id === j.id)));
          next = page.next_cursor ?? null;
        } while (next && rows.length < count);
        setJobs(rows);
        setCursor(next);
        setError(undefined);
      } catch (e) {
        if (gen.current === mine) setError(e);
      } finally {
        if (gen.current === mine) setLoading(false);
      }
    },
    [status, trainer],
  );

  useEffect(() => {
    setLoading(true);
    setJobs([]);
    void load(PAGE);
  }, [load]);

  const active = jobs.some(isActive);
  useInterval(() => void load(jobs.length), 3000, active && !more);

  const loadMore = async () => {
    if (!cursor) return;
    setMore(true);
    const mine = ++gen.current;
    try {
      const page = await must(api.GET('/v1/jobs', { params: { query: { limit: PAGE, cursor, status, trainer } } }));
      if (gen.current !== mine) return;
      setJobs((js) => [...js, ...(page.data ?? []).filter((j) => !js.some((x) => x.id === j.id))]);
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      setError(e);
    } finally {
      setMore(false);
    }
  };

  const setFilter = (key: 'status' | 'trainer', value: string) => {
    const p = new URLSearchParams(search);
    if (value) p.set(key, value);
    else p.delete(key);
    const q = p.toString();
    navigate(`/jobs${q ? `?${q}` : ''}`, { replace: true });
  };

  return (
    <Page
      title="Jobs"
      actions={
        <Link href="/jobs/new" className="button primary">
          New job
        </Link>
      }
    >
      <form className="row filters" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status ?? ''} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="filter-trainer">Trainer</label>
          <select id="filter-trainer" value={trainer ?? ''} onChange={(e) => setFilter('trainer', e.target.value)}>
            <option value="">Any trainer</option>
            {trainer && !trainers.data?.data?.some((t) => t.id === trainer) && <option value={trainer}>{trainer}</option>}
            {(trainers.data?.data ?? []).map((t) => (
              <option key={t.id} value={t.id}>
                {t.id}
              </option>
            ))}
          </select>
        </div>
      </form>
      <ErrorNote error={error} />
      {loading ? (
        <Loading what="Loading jobs" />
      ) : jobs.length === 0 && !error ? (
        <p className="notice">
          {status || trainer ? 'No jobs match these filters.' : 'No jobs yet.'} <Link href="/jobs/new">Start a training job</Link>.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="jobs-table">
            <caption className="visually-hidden">Your jobs, newest first{active ? ' (updating while jobs run)' : ''}</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Trainer</th>
                <th scope="col">Model</th>
                <th scope="col" className="num">
                  Progress
                </th>
                <th scope="col" className="num">
                  Cost
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id}>
                  <td>
                    <Link href={`/jobs/${encodeURIComponent(j.id ?? '')}`}>
                      <code>{j.id}</code>
                    </Link>
                  </td>
                  <td>
                    <Badge status={j.status ?? 'unknown'} />
                  </td>
                  <td>{j.trainer}</td>
                  <td>{modelName(j) ?? <span className="muted">—</span>}</td>
                  <td className="num">{Math.round((j.progress?.fraction ?? 0) * 100)}%</td>
                  <td className="num">{fmtCredits(j.cost)}</td>
                  <td>{fmtDate(j.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <p>
          <button type="button" onClick={() => void loadMore()} disabled={more}>
            {more ? 'Loading…' : 'Load more'}
          </button>
        </p>
      )}
    </Page>
  );
}

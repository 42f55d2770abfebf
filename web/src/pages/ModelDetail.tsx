import { useId, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { api, ApiError, must } from '../api/client';
import type { Job, Model } from '../api/types';
import { GeneratePanel } from '../components/models/GeneratePanel';
import { inputShape, Playground } from '../components/models/Playground';
import { metricNames, VersionsTable, type Version } from '../components/models/VersionsTable';
import { Page } from '../components/Page';
import { Badge, ErrorNote, Loading } from '../components/ui';
import { fmtBytes, fmtDate } from '../lib/format';
import { useAsync } from '../lib/use-async';
import '../styles/jobs.css';

const AUTO_ALIASES = ['latest', 'best'];

export default function ModelDetail({ name }: { name: string }) {
  const model = useAsync(() => must(api.GET('/v1/models/{name}', { params: { path: { name } } })), [name]);
  if (!model.data) {
    const notFound = model.error instanceof ApiError && model.error.status === 404;
    return (
      <Page title={notFound ? 'Model not found' : name}>
        {model.error ? <ErrorNote error={model.error} /> : <Loading what="Loading the model" />}
        {!!model.error && (
          <p>
            <Link href="/models">Back to your models</Link>
          </p>
        )}
      </Page>
    );
  }
  return <ModelView key={name} model={model.data} set={model.set} />;
}

function ModelView({ model, set }: { model: Model; set: (m: Model) => void }) {
  const name = model.name!;
  const [tick, setTick] = useState(0);
  const versions = useAsync(async () => (await must(api.GET('/v1/models/{name}/versions', { params: { path: { name } } }))).data ?? [], [name, tick]);
  // The model's training jobs: lineage (from_model) and what each version expects as input.
  const jobs = useAsync(async () => {
    const page = await must(api.GET('/v1/jobs', { params: { query: { model_name: name, limit: 100 } } }));
    return new Map((page.data ?? []).map((j) => [j.id!, j]));
  }, [name]);
  const trainer = useAsync(() => must(api.GET('/v1/trainers/{id}', { params: { path: { id: model.trainer! } } })), [model.trainer]);
  const task = trainer.data?.task;
  const vs = versions.data ?? [];
  const changed = (m: Model) => {
    set(m);
    setTick((t) => t + 1);
  };

  return (
    <Page title={name}>
      <dl className="facts">
        <dt>Trainer</dt>
        <dd>{model.trainer}</dd>
        <dt>Visibility</dt>
        <dd>
          <Badge status={model.visibility ?? 'private'} />
        </dd>
        <dt>Versions</dt>
        <dd>{model.version_count}</dd>
        <dt>Primary metric</dt>
        <dd>{model.primary_metric ? `${model.primary_metric} (${model.metric_goal ?? 'maximize'})` : '—'}</dd>
        <dt>Created</dt>
        <dd>{fmtDate(model.created_at)}</dd>
        {model.description && (
          <>
            <dt>Description</dt>
            <dd>{model.description}</dd>
          </>
        )}
      </dl>

      <section aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        <ErrorNote error={versions.error ?? jobs.error} />
        {versions.data ? vs.length ? <VersionsTable model={model} versions={vs} jobs={jobs.data ?? new Map()} /> : <p>No versions yet.</p> : <Loading />}
      </section>

      <div className="grid">
        <Aliases model={model} versions={vs} onChange={changed} />
        <Settings model={model} versions={vs} onChange={changed} />
      </div>

      {vs.length > 0 && <Downloads model={name} versions={vs} />}

      {vs.length > 0 && task?.endsWith('-classification') && task !== 'video-classification' && (
        <section aria-labelledby="play-h">
          <h2 id="play-h">Prediction playground</h2>
          <PlaygroundFor model={model} versions={vs} jobs={jobs.data} task={task} />
        </section>
      )}
      {vs.length > 0 && task === 'text-to-image-lora' && (
        <section aria-labelledby="gen-h">
          <h2 id="gen-h">Image generation</h2>
          <GeneratePanel model={name} triggerWord={model.trigger_word} />
        </section>
      )}
    </Page>
  );
}

function versionChoices(model: Model, versions: Version[]) {
  const aliases = Object.entries(model.aliases ?? {}).sort(([a], [b]) => (a === 'best' ? -1 : b === 'best' ? 1 : a.localeCompare(b)));
  return [...aliases.map(([a, v]) => ({ value: a, label: `${a} (v${v})` })), ...versions.map((v) => ({ value: String(v.version), label: `v${v.version}` }))];
}

/** The playground for the version chosen first (best, else latest), prefilled from its job's result. */
function PlaygroundFor({ model, versions, jobs, task }: { model: Model; versions: Version[]; jobs: Map<string, Job> | undefined; task: string }) {
  const choices = versionChoices(model, versions);
  const first = choices[0]?.value;
  const number = first && /^\d+$/.test(first) ? Number(first) : model.aliases?.[first ?? ''];
  const v = versions.find((x) => x.version === number) ?? versions[0];
  const jobId = typeof v?.job_id === 'string' ? v.job_id : null;
  // Older jobs than the page of 100: read that one job.
  const job = useAsync(
    async () => (jobId ? (jobs?.get(jobId) ?? (await must(api.GET('/v1/jobs/{id}', { params: { path: { id: jobId } } })))) : null),
    [jobId, jobs],
  );
  const details = (job.data?.result as { details?: Record<string, unknown> } | null | undefined)?.details;
  const shape = useMemo(() => inputShape(task, details), [task, details]);
  if (job.loading && !job.data) return <Loading what="Reading what the model expects" />;
  return <Playground key={JSON.stringify(shape)} model={model.name!} versions={choices} shape={shape} />;
}

function Aliases({ model, versions, onChange }: { model: Model; versions: Version[]; onChange: (m: Model) => void }) {
  const id = useId();
  const name = model.name!;
  const custom = Object.keys(model.aliases ?? {}).filter((a) => !AUTO_ALIASES.includes(a));
  const [alias, setAlias] = useState(custom[0] ?? 'production');
  const [version, setVersion] = useState(String(versions[0]?.version ?? ''));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone('');
    try {
      const v = Number(version || versions[0]?.version);
      const r = await must(api.PUT('/v1/models/{name}/aliases/{alias}', { params: { path: { name, alias: alias.trim() } }, body: { version: v } }));
      onChange(await must(api.GET('/v1/models/{name}', { params: { path: { name } } })));
      setDone(`${r.alias} now points at v${r.version}.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Aliases</h2>
      <ul>
        {Object.entries(model.aliases ?? {})
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([a, v]) => (
            <li key={a} data-alias={a}>
              <strong>{a}</strong> → v{v}
              {a === 'best' ? (
                <span className="muted"> (chosen by the primary metric)</span>
              ) : a === 'latest' ? (
                <span className="muted"> (the newest)</span>
              ) : (
                ''
              )}
            </li>
          ))}
      </ul>
      {versions.length > 0 && (
        <form className="inline-form" onSubmit={(e) => void submit(e)}>
          <div>
            <label htmlFor={`${id}-a`}>Alias</label>
            <input
              id={`${id}-a`}
              list={`${id}-list`}
              value={alias}
              onChange={(e) => setAlias(e.target.value)}
              required
              pattern="[a-z][a-z0-9_\-]*"
              maxLength={50}
            />
            <datalist id={`${id}-list`}>
              {custom.map((a) => (
                <option key={a} value={a} />
              ))}
            </datalist>
          </div>
          <div>
            <label htmlFor={`${id}-v`}>Version</label>
            <select id={`${id}-v`} value={version} onChange={(e) => setVersion(e.target.value)}>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" disabled={busy}>
            Point alias
          </button>
        </form>
      )}
      <p className="help">
        <code>latest</code> and <code>best</code> are kept automatically; change the primary metric to re-choose <code>best</code>.
      </p>
      <ErrorNote error={error} />
      <p role="status" className="muted">
        {done}
      </p>
    </section>
  );
}

function Settings({ model, versions, onChange }: { model: Model; versions: Version[]; onChange: (m: Model) => void }) {
  const id = useId();
  const name = model.name!;
  const names = metricNames(versions, model.primary_metric);
  const [metric, setMetric] = useState(model.primary_metric ?? names[0] ?? '');
  const [goal, setGoal] = useState<'' | 'maximize' | 'minimize'>('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const patch = async (body: { visibility?: 'public' | 'private'; primary_metric?: string; metric_goal?: 'maximize' | 'minimize' }, what: string) => {
    setBusy(true);
    setError(undefined);
    setDone('');
    try {
      onChange(await must(api.PATCH('/v1/models/{name}', { params: { path: { name } }, body })));
      setDone(what);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const isPublic = model.visibility === 'public';
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Settings</h2>
      <p>
        {isPublic ? 'Public: every signed-in user can see it and generate or predict with it.' : 'Private: only you can see and use it.'}{' '}
        <button
          type="button"
          disabled={busy}
          onClick={() => void patch({ visibility: isPublic ? 'private' : 'public' }, isPublic ? 'The model is private now.' : 'The model is public now.')}
        >
          {isPublic ? 'Make private' : 'Make public'}
        </button>
      </p>
      {names.length > 0 && (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void patch({ primary_metric: metric, ...(goal ? { metric_goal: goal } : {}) }, `best is now chosen by ${metric}.`);
          }}
        >
          <div>
            <label htmlFor={`${id}-m`}>Primary metric</label>
            <select id={`${id}-m`} value={metric} onChange={(e) => setMetric(e.target.value)}>
              {names.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor={`${id}-g`}>Better when</label>
            <select id={`${id}-g`} value={goal} onChange={(e) => setGoal(e.target.value as '' | 'maximize' | 'minimize')}>
              <option value="">inferred from the name</option>
              <option value="maximize">higher</option>
              <option value="minimize">lower</option>
            </select>
          </div>
          <button type="submit" disabled={busy}>
            Save metric
          </button>
        </form>
      )}
      <ErrorNote error={error} />
      <p role="status" className="muted">
        {done}
      </p>
    </section>
  );
}

/** A version's artifacts: each download asks for a fresh signed URL, then the browser fetches it. */
function Downloads({ model, versions }: { model: string; versions: Version[] }) {
  const id = useId();
  const [which, setWhich] = useState(String(versions[0]?.version ?? ''));
  const [error, setError] = useState<unknown>();
  const v = versions.find((x) => String(x.version) === which) ?? versions[0];
  const download = async (artifact: string) => {
    setError(undefined);
    try {
      const a = await must(
        api.GET('/v1/models/{name}/versions/{v}/artifacts/{artifact}', { params: { path: { name: model, v: String(v?.version), artifact }, query: {} } }),
      );
      const link = document.createElement('a');
      link.href = a.url!;
      link.download = artifact;
      link.rel = 'noopener';
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (err) {
      setError(err);
    }
  };
  const artifacts = (v?.artifacts ?? []) as { name?: unknown; format?: unknown; bytes?: unknown }[];
  return (
    <section aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Artifacts</h2>
      <label htmlFor={`${id}-v`}>Version</label>
      <select id={`${id}-v`} value={which} onChange={(e) => setWhich(e.target.value)}>
        {versions.map((x) => (
          <option key={x.version} value={x.version}>
            v{x.version}
          </option>
        ))}
      </select>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">Artifacts of version {v?.version}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Format</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col">
                <span className="visually-hidden">Download</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {artifacts.map((a) => (
              <tr key={String(a.name)}>
                <td>
                  <code>{String(a.name)}</code>
                </td>
                <td>{String(a.format ?? '')}</td>
                <td className="num">{fmtBytes(typeof a.bytes === 'number' ? a.bytes : null)}</td>
                <td>
                  <button type="button" onClick={() => void download(String(a.name))} aria-label={`Download ${String(a.name)}`}>
                    Download
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ErrorNote error={error} />
    </section>
  );
}

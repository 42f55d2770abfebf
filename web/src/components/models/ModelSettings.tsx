import { useId, useState } from 'react';
import { api, must } from '../../api/client';
import type { Model } from '../../api/types';
import { ErrorNote } from '../ui';
import { metricNames, type Version } from './VersionsTable';

/** Visibility, and the primary metric that chooses the `best` alias. */
export function ModelSettings({ model, versions, onChange }: { model: Model; versions: Version[]; onChange: (m: Model) => void }) {
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

import { useId, useState, type FormEvent } from 'react';
import { api, must } from '../../api/client';
import type { Model } from '../../api/types';
import { ErrorNote } from '../ui';
import type { Version } from './VersionsTable';

const AUTO_ALIASES = ['latest', 'best'];

/** The aliases and where they point; a form to point one (a new name makes it). */
export function Aliases({ model, versions, onChange }: { model: Model; versions: Version[]; onChange: (m: Model) => void }) {
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

import { useId, useState } from 'react';
import { api, must } from '../../api/client';
import { fmtBytes } from '../../lib/format';
import { ErrorNote } from '../ui';
import type { Version } from './VersionsTable';

/** A version's artifacts: each download asks for a fresh signed URL, then the browser fetches it. */
export function Downloads({ model, versions }: { model: string; versions: Version[] }) {
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
                  <code className="artifact-name">{String(a.name)}</code>
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

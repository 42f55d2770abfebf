import { useState } from 'react';
import { api, must } from '../../api/client';
import type { BaseModel, Trainer } from '../../api/types';
import { ErrorNote, Loading } from '../ui';
import { TableWrap } from './TableWrap';

function Availability({ ok }: { ok: boolean | undefined }) {
  return ok ? <span className="status-ok">available</span> : <span className="status-off">unavailable</span>;
}

/**
 * What the catalog offers and what of it cannot run here, with the reason the server gives
 * (a missing runtime, missing model files), and the button that re-reads catalog.json and
 * probes the runtimes again.
 */
export function AdminCatalog({
  trainers,
  baseModels,
  loading,
  error,
  reload,
}: {
  trainers: Trainer[];
  baseModels: BaseModel[];
  loading: boolean;
  error: unknown;
  reload: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState('');
  const [reloadError, setReloadError] = useState<unknown>();

  const reloadCatalog = async () => {
    setBusy(true);
    setSaid('');
    setReloadError(undefined);
    try {
      const r = await must(api.POST('/v1/admin/catalog/reload'));
      setSaid(`Catalog reloaded: ${r.trainers ?? 0} trainers, ${r.base_models ?? 0} base models.`);
      reload();
    } catch (err) {
      setReloadError(err);
    } finally {
      setBusy(false);
    }
  };

  const offTrainers = trainers.filter((t) => !t.available).length;
  const offModels = baseModels.filter((m) => !m.available).length;
  return (
    <>
      <div className="row">
        <button type="button" onClick={() => void reloadCatalog()} disabled={busy}>
          {busy ? 'Reloading…' : 'Reload catalog'}
        </button>
        <span className="help">Re-reads DATA_DIR/catalog.json and checks every trainer’s runtime again (the Python environment included).</span>
      </div>
      <p role="status" data-testid="reload-result">
        {said}
      </p>
      <ErrorNote error={reloadError} title="Could not reload the catalog" />
      <ErrorNote error={error} title="Could not load the catalog" />
      {loading && trainers.length === 0 ? (
        <Loading what="Loading the catalog" />
      ) : (
        <>
          <h3 id="trainers-title">Trainers</h3>
          <p className="muted">
            {trainers.length - offTrainers} of {trainers.length} available{offTrainers ? `; ${offTrainers} cannot run on this server` : ''}.
          </p>
          <TableWrap label="Trainers table">
            <table aria-labelledby="trainers-title" data-testid="catalog-trainers">
              <thead>
                <tr>
                  <th scope="col">Trainer</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Availability</th>
                  <th scope="col">Why not</th>
                </tr>
              </thead>
              <tbody>
                {trainers.map((t) => (
                  <tr key={t.id} data-trainer={t.id}>
                    <th scope="row">
                      <code>{t.id}</code>
                      <div className="muted">{t.title}</div>
                    </th>
                    <td>{t.kind}</td>
                    <td data-col="availability">
                      <Availability ok={t.available} />
                    </td>
                    <td data-col="reason">{t.available ? <span className="muted">—</span> : (t.unavailable_reason ?? 'no reason given')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>

          <h3 id="base-models-title">Base models</h3>
          <p className="muted">
            {baseModels.length - offModels} of {baseModels.length} available{offModels ? `; ${offModels} without their model files` : ''}.
          </p>
          {baseModels.length > 0 && (
            <TableWrap label="Base models table">
              <table aria-labelledby="base-models-title" data-testid="catalog-base-models">
                <thead>
                  <tr>
                    <th scope="col">Base model</th>
                    <th scope="col">Architecture</th>
                    <th scope="col">Trainers</th>
                    <th scope="col">Availability</th>
                    <th scope="col">Why not</th>
                  </tr>
                </thead>
                <tbody>
                  {baseModels.map((m) => (
                    <tr key={m.id} data-base-model={m.id}>
                      <th scope="row">
                        <code>{m.id}</code>
                        {m.registered && <div className="muted">registered by an admin</div>}
                      </th>
                      <td>{m.architecture}</td>
                      <td>{(m.trainers ?? []).join(', ')}</td>
                      <td data-col="availability">
                        <Availability ok={m.available} />
                      </td>
                      <td data-col="reason">
                        {m.available ? (
                          <span className="muted">—</span>
                        ) : (
                          <>
                            model files not found at <code>{m.source}</code>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          )}
        </>
      )}
    </>
  );
}

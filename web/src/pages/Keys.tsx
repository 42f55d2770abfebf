import { useRef, useState, type FormEvent } from 'react';
import { api, must } from '../api/client';
import type { ApiKey } from '../api/types';
import { Page } from '../components/Page';
import { Confirm, CopyButton, ErrorNote, Loading } from '../components/ui';
import { fmtDate } from '../lib/format';
import { useAsync } from '../lib/use-async';
import '../styles/account.css';
import { TableWrap } from '../components/account/TableWrap';

/**
 * API keys: for scripts and programs, which send one as `Authorization: Bearer <key>`. A key's
 * secret is shown once, when it is made; the server keeps only its hash.
 */
export default function Keys() {
  const keys = useAsync(async () => (await must(api.GET('/v1/api-keys'))).data ?? [], []);
  const [created, setCreated] = useState<ApiKey>();
  const [createError, setCreateError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey>();
  const [revokeError, setRevokeError] = useState<unknown>();
  const [said, setSaid] = useState('');
  const nameRef = useRef<HTMLInputElement>(null);
  const secretRef = useRef<HTMLHeadingElement>(null);

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get('name') ?? '').trim();
    setBusy(true);
    setCreateError(undefined);
    setSaid('');
    try {
      const k = await must(api.POST('/v1/api-keys', { body: { name } }));
      setCreated(k);
      form.reset();
      keys.reload();
      // The one moment the secret can be copied: take the reader there.
      requestAnimationFrame(() => secretRef.current?.focus());
    } catch (err) {
      setCreateError(err);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    const k = revoking;
    setRevoking(undefined);
    if (!k?.id) return;
    setRevokeError(undefined);
    try {
      await must(api.DELETE('/v1/api-keys/{id}', { params: { path: { id: k.id } } }));
      if (created?.id === k.id) setCreated(undefined);
      setSaid(`Key “${k.name}” revoked: programs using it are refused from their next request.`);
      keys.reload();
    } catch (err) {
      setRevokeError(err);
    }
  };

  return (
    <Page title="API keys">
      <p className="muted">
        Programs and scripts use an API key instead of your password: send it as <code>Authorization: Bearer &lt;key&gt;</code>. Revoke a key you no longer use
        or that may have leaked.
      </p>

      <form className="card" onSubmit={create} aria-labelledby="new-key-title">
        <h2 id="new-key-title" className="card-title">
          Create a key
        </h2>
        <label htmlFor="key-name">Key name</label>
        <p className="help" id="key-name-help">
          What it is for, e.g. “CI pipeline” or “laptop script”.
        </p>
        <div className="row">
          <input id="key-name" name="name" ref={nameRef} required maxLength={100} aria-describedby="key-name-help" autoComplete="off" />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
        <ErrorNote error={createError} title="Could not create the key" />
      </form>

      {created?.secret && (
        <section className="secret-box" aria-labelledby="secret-title">
          <h2 id="secret-title" ref={secretRef} tabIndex={-1}>
            Your new key “{created.name}”
          </h2>
          <p>
            <strong>Copy it now: you will not see it again.</strong> Trainyard keeps only a fingerprint of it; if you lose it, revoke it and create another.
          </p>
          <code className="secret" data-testid="new-key-secret" aria-label="The new API key">
            {created.secret}
          </code>
          <div className="row">
            <CopyButton text={created.secret} label="Copy key" />
            <button type="button" onClick={() => (setCreated(undefined), nameRef.current?.focus())}>
              I have copied it
            </button>
          </div>
        </section>
      )}

      <h2>Your keys</h2>
      <p role="status" className="muted">
        {said}
      </p>
      <ErrorNote error={revokeError} title="Could not revoke the key" />
      <ErrorNote error={keys.error} title="Could not load your keys" />
      {keys.loading && !keys.data ? (
        <Loading what="Loading keys" />
      ) : keys.data && keys.data.length === 0 ? (
        <p className="notice">You have no API keys yet.</p>
      ) : (
        keys.data && (
          <TableWrap label="Your API keys table">
            <table>
              <caption className="visually-hidden">Your active API keys</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Starts with</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((k) => (
                  <tr key={k.id} data-key-id={k.id}>
                    <td>{k.name}</td>
                    <td>
                      <code>{k.prefix}…</code>
                    </td>
                    <td>{fmtDate(k.created_at)}</td>
                    <td>{k.last_used_at ? fmtDate(k.last_used_at) : 'never'}</td>
                    <td>
                      <button type="button" className="danger" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name ?? 'key'}`}>
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )
      )}

      <Confirm
        open={revoking !== undefined}
        title={`Revoke “${revoking?.name ?? ''}”?`}
        confirmLabel="Revoke key"
        danger
        onConfirm={() => void revoke()}
        onClose={() => setRevoking(undefined)}
      >
        <p>
          Anything that uses the key starting with <code>{revoking?.prefix}</code> is refused from its next request on. This cannot be undone.
        </p>
      </Confirm>
    </Page>
  );
}

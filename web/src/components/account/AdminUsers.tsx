import { useState } from 'react';
import { api, must } from '../../api/client';
import type { AdminUser } from '../../api/types';
import { fmtDate } from '../../lib/format';
import { Confirm, ErrorNote } from '../ui';
import { LoadMore } from './LoadMore';
import { usePaged } from './paged';
import { TableWrap } from './TableWrap';

type Change = { user: AdminUser; body: { role: 'user' | 'admin' } | { disabled: boolean } };

function kindOf(u: AdminUser): string {
  if (u.role === 'bot') return 'bot';
  if (u.service_account) return 'service account';
  return 'person';
}

function describe(c: Change): { title: string; label: string; text: string; danger: boolean } {
  const name = c.user.username ?? c.user.id ?? '';
  if ('role' in c.body) {
    return c.body.role === 'admin'
      ? { title: `Make ${name} an admin?`, label: 'Make admin', text: `${name} will manage every account, job and the catalog.`, danger: false }
      : { title: `Make ${name} a user?`, label: 'Make user', text: `${name} loses admin rights from their next request on.`, danger: true };
  }
  return c.body.disabled
    ? {
        title: `Disable ${name}?`,
        label: 'Disable account',
        text: `${name} is refused from their next request on: log-in, open sessions and API keys stop working. Their jobs and data stay.`,
        danger: true,
      }
    : { title: `Enable ${name}?`, label: 'Enable account', text: `${name} can log in again, and their API keys work again.`, danger: false };
}

/** Every account: role, disabled, service account; promote or demote, disable or enable (after a confirmation). */
export function AdminUsers({ meId }: { meId: string | undefined }) {
  const users = usePaged<AdminUser>((cursor) => must(api.GET('/v1/admin/users', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })), []);
  const [change, setChange] = useState<Change>();
  const [error, setError] = useState<unknown>();
  const [said, setSaid] = useState('');

  const apply = async () => {
    const c = change;
    setChange(undefined);
    if (!c?.user.id) return;
    setError(undefined);
    setSaid('');
    try {
      const u = await must(api.PATCH('/v1/admin/users/{id}', { params: { path: { id: c.user.id } }, body: c.body }));
      users.replace((x) => x.id === u.id, u);
      setSaid(
        'role' in c.body
          ? `${u.username} is now ${u.role === 'admin' ? 'an admin' : 'a user'}.`
          : `${u.username} is now ${u.disabled ? 'disabled' : 'enabled'}.`,
      );
    } catch (err) {
      setError(err);
    }
  };

  const d = change && describe(change);
  return (
    <>
      <p role="status" className="muted">
        {said}
      </p>
      <ErrorNote error={error} title="Could not change the account" />
      <ErrorNote error={users.error} title="Could not load the accounts" />
      <TableWrap label="Accounts table">
        <table data-testid="users">
          <caption className="visually-hidden">Accounts</caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Email</th>
              <th scope="col">Kind</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.items.map((u) => {
              const self = u.id === meId;
              const fixedRole = u.role === 'bot' || (u.service_account && u.role !== 'admin');
              return (
                <tr key={u.id} data-username={u.username}>
                  <th scope="row">
                    {u.username}
                    {self && <span className="muted"> (you)</span>}
                  </th>
                  <td>{u.service_account || u.role === 'bot' ? <span className="muted">—</span> : u.email}</td>
                  <td>{kindOf(u)}</td>
                  <td data-col="role">{u.role}</td>
                  <td data-col="status">
                    {u.disabled ? (
                      <span className="status-off" title={u.disabled_at ? `since ${fmtDate(u.disabled_at)}` : undefined}>
                        disabled
                      </span>
                    ) : (
                      <span className="status-ok">active</span>
                    )}
                  </td>
                  <td>{fmtDate(u.created_at)}</td>
                  <td>
                    {self ? (
                      <span className="muted">Another admin can change your account</span>
                    ) : (
                      <div className="actions">
                        {!fixedRole &&
                          (u.role === 'admin' ? (
                            <button type="button" onClick={() => setChange({ user: u, body: { role: 'user' } })} aria-label={`Make user: ${u.username}`}>
                              Make user
                            </button>
                          ) : (
                            <button type="button" onClick={() => setChange({ user: u, body: { role: 'admin' } })} aria-label={`Make admin: ${u.username}`}>
                              Make admin
                            </button>
                          ))}
                        {u.disabled ? (
                          <button type="button" onClick={() => setChange({ user: u, body: { disabled: false } })} aria-label={`Enable ${u.username}`}>
                            Enable
                          </button>
                        ) : (
                          <button
                            type="button"
                            className="danger"
                            onClick={() => setChange({ user: u, body: { disabled: true } })}
                            aria-label={`Disable ${u.username}`}
                          >
                            Disable
                          </button>
                        )}
                      </div>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableWrap>
      <LoadMore list={users} what={['account', 'accounts']} />
      <Confirm
        open={change !== undefined}
        title={d?.title ?? ''}
        confirmLabel={d?.label ?? 'Confirm'}
        danger={d?.danger ?? false}
        onConfirm={() => void apply()}
        onClose={() => setChange(undefined)}
      >
        <p>{d?.text}</p>
      </Confirm>
    </>
  );
}

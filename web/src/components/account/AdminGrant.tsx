import { useState, type FormEvent } from 'react';
import { api, must } from '../../api/client';
import { fmtCredits } from '../../lib/format';
import { useAsync } from '../../lib/use-async';
import { ErrorNote } from '../ui';

/** Grants credits to an account (POST /v1/admin/credits/grants): who, how many, why. */
export function AdminGrant() {
  // Suggestions for the username field; any account's name is accepted.
  const names = useAsync(async () => (await must(api.GET('/v1/admin/users', { params: { query: { limit: 200 } } }))).data ?? [], []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [said, setSaid] = useState('');

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const username = String(f.get('username') ?? '').trim();
    const credits = Number(f.get('credits'));
    const note = String(f.get('note') ?? '').trim();
    setBusy(true);
    setError(undefined);
    setSaid('');
    try {
      const b = await must(api.POST('/v1/admin/credits/grants', { body: { username, credits, ...(note ? { note } : {}) } }));
      setSaid(`Granted ${fmtCredits(credits)} to ${username}: their balance is now ${fmtCredits(b.balance)}.`);
      form.reset();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="grant-title">
      <h3 id="grant-title" className="card-title">
        Grant credits
      </h3>
      <div className="grant-form">
        <div>
          <label htmlFor="grant-user">Account</label>
          <input id="grant-user" name="username" list="grant-users" required maxLength={64} autoComplete="off" aria-describedby="grant-user-help" />
          <datalist id="grant-users">
            {(names.data ?? [])
              .filter((u) => u.role !== 'bot')
              .map((u) => (
                <option key={u.id} value={u.username} />
              ))}
          </datalist>
          <p className="help" id="grant-user-help">
            Username (suggested as you type).
          </p>
        </div>
        <div>
          <label htmlFor="grant-credits">Amount (credits)</label>
          <input id="grant-credits" name="credits" type="number" inputMode="numeric" min={1} max={1_000_000_000} step={1} required />
          <p className="help">A whole number, 1 or more.</p>
        </div>
        <div>
          <label htmlFor="grant-note">Reason</label>
          <input id="grant-note" name="note" maxLength={500} placeholder="admin grant" />
          <p className="help">Shown in their transactions.</p>
        </div>
      </div>
      <p className="row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Granting…' : 'Grant credits'}
        </button>
      </p>
      <p role="status" data-testid="grant-result">
        {said}
      </p>
      <ErrorNote error={error} title="Could not grant the credits" />
    </form>
  );
}

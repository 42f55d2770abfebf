import { useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api, must } from '../api/client';
import { ErrorNote } from '../components/ui';
import { useAuth } from '../lib/auth';
import { nextPath } from './Login';

export default function Signup() {
  const { signIn } = useAuth();
  const [, navigate] = useLocation();
  const search = useSearch();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const username = String(f.get('username'));
    const password = String(f.get('password'));
    setBusy(true);
    setError(undefined);
    try {
      await must(api.POST('/v1/auth/signup', { body: { username, email: String(f.get('email')), password } }));
      const t = await must(api.POST('/v1/auth/login', { body: { username, password } }));
      signIn(t.access_token!);
      navigate(nextPath(search), { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="auth-box">
      <h1>Create a Trainyard account</h1>
      <form onSubmit={submit} className="card">
        <label htmlFor="username">Username</label>
        <input id="username" name="username" autoComplete="username" required minLength={3} maxLength={32} aria-describedby="username-help" />
        <p className="help" id="username-help">
          3–32 letters, digits, dots, dashes or underscores.
        </p>
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="email" required />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="new-password" required minLength={10} aria-describedby="password-help" />
        <p className="help" id="password-help">
          At least 10 characters, 5 of them different, not containing the username.
        </p>
        <ErrorNote error={error} />
        <p className="row">
          <button type="submit" className="primary" disabled={busy}>
            Create account
          </button>
        </p>
      </form>
      <p>
        Have an account? <Link href={`/login${search ? `?${search}` : ''}`}>Log in</Link>.
      </p>
    </main>
  );
}

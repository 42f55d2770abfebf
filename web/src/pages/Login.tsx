import { useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api, must } from '../api/client';
import { ErrorNote } from '../components/ui';
import { useAuth } from '../lib/auth';

/** Where to go after signing in: the page the visitor asked for, if it is one of ours. */
export function nextPath(search: string): string {
  const next = new URLSearchParams(search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/jobs';
}

export default function Login() {
  const { signIn } = useAuth();
  const [, navigate] = useLocation();
  const search = useSearch();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      const t = await must(api.POST('/v1/auth/login', { body: { username: String(f.get('username')), password: String(f.get('password')) } }));
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
      <h1>Log in to Trainyard</h1>
      <form onSubmit={submit} className="card" aria-describedby={error ? 'login-error' : undefined}>
        <label htmlFor="username">Username</label>
        <input id="username" name="username" autoComplete="username" required />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <div id="login-error">
          <ErrorNote error={error} />
        </div>
        <p className="row">
          <button type="submit" className="primary" disabled={busy}>
            Log in
          </button>
        </p>
      </form>
      <p>
        New here? <Link href={`/signup${search ? `?${search}` : ''}`}>Create an account</Link>.
      </p>
    </main>
  );
}

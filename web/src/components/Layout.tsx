import { useState, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { useAuth } from '../lib/auth';

const NAV = [
  ['/datasets', 'Datasets'],
  ['/jobs', 'Jobs'],
  ['/models', 'Models'],
  ['/sweeps', 'Sweeps'],
  ['/credits', 'Credits'],
  ['/keys', 'API keys'],
] as const;

/** The frame of every signed-in page: a skip link, the navigation, the account, then the page. */
export function Layout({ children }: { children: ReactNode }) {
  const { me, signOut } = useAuth();
  const [location] = useLocation();
  const [open, setOpen] = useState(false);
  const links = me?.role === 'admin' ? [...NAV, ['/admin', 'Admin'] as const] : NAV;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link href="/jobs" className="brand">
          Trainyard
        </Link>
        <button type="button" className="menu-button" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
          Menu
        </button>
        <nav id="nav" aria-label="Main" className={open ? 'open' : ''}>
          <ul>
            {links.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={location.startsWith(href) ? 'page' : undefined} onClick={() => setOpen(false)}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          <span className="muted" data-testid="whoami">
            {me?.username}
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

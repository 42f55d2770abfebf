import { lazy, Suspense, type ReactNode } from 'react';
import { Redirect, Route, Switch, useLocation, useSearch } from 'wouter';
import { Layout } from './components/Layout';
import { Loading } from './components/ui';
import { useAuth } from './lib/auth';
// Log-in and sign-up (2 kB) are in the shell itself: a signed-out visitor's first page then
// renders at once, without a lazy chunk and React's Suspense reveal delay (~300 ms measured).
import Login from './pages/Login';
import Signup from './pages/Signup';

// Each signed-in page is its own chunk: the first load carries the shell and the page it opens.
const Keys = lazy(() => import('./pages/Keys'));
const Credits = lazy(() => import('./pages/Credits'));
const Admin = lazy(() => import('./pages/Admin'));
const Datasets = lazy(() => import('./pages/Datasets'));
const DatasetDetail = lazy(() => import('./pages/DatasetDetail'));
const NewJob = lazy(() => import('./pages/NewJob'));
const Jobs = lazy(() => import('./pages/Jobs'));
const JobDetail = lazy(() => import('./pages/JobDetail'));
const Models = lazy(() => import('./pages/Models'));
const ModelDetail = lazy(() => import('./pages/ModelDetail'));
const Sweeps = lazy(() => import('./pages/Sweeps'));
const SweepDetail = lazy(() => import('./pages/SweepDetail'));
const NotFound = lazy(() => import('./pages/NotFound'));

function Signed({ children }: { children: ReactNode }) {
  const { token } = useAuth();
  const [location] = useLocation();
  const search = useSearch();
  if (!token) return <Redirect to={`/login?next=${encodeURIComponent(location + (search ? `?${search}` : ''))}`} replace />;
  return <Layout>{children}</Layout>;
}

const dec = (v: string | undefined) => {
  try {
    return decodeURIComponent(v ?? '');
  } catch {
    return v ?? '';
  }
};

export function App() {
  const { token } = useAuth();
  return (
    <Suspense fallback={<Loading />}>
      <Switch>
        <Route path="/login" component={Login} />
        <Route path="/signup" component={Signup} />
        <Route path="/">{token ? <Redirect to="/jobs" replace /> : <Redirect to="/login" replace />}</Route>
        <Route path="/keys">
          {() => (
            <Signed>
              <Keys />
            </Signed>
          )}
        </Route>
        <Route path="/credits">
          {() => (
            <Signed>
              <Credits />
            </Signed>
          )}
        </Route>
        <Route path="/admin">
          {() => (
            <Signed>
              <Admin />
            </Signed>
          )}
        </Route>
        <Route path="/datasets">
          {() => (
            <Signed>
              <Datasets />
            </Signed>
          )}
        </Route>
        <Route path="/datasets/:id">
          {(p) => (
            <Signed>
              <DatasetDetail id={dec(p.id)} />
            </Signed>
          )}
        </Route>
        <Route path="/jobs">
          {() => (
            <Signed>
              <Jobs />
            </Signed>
          )}
        </Route>
        <Route path="/jobs/new">
          {() => (
            <Signed>
              <NewJob />
            </Signed>
          )}
        </Route>
        <Route path="/jobs/:id">
          {(p) => (
            <Signed>
              <JobDetail id={dec(p.id)} />
            </Signed>
          )}
        </Route>
        <Route path="/models">
          {() => (
            <Signed>
              <Models />
            </Signed>
          )}
        </Route>
        <Route path="/models/:name">
          {(p) => (
            <Signed>
              <ModelDetail name={dec(p.name)} />
            </Signed>
          )}
        </Route>
        <Route path="/sweeps">
          {() => (
            <Signed>
              <Sweeps />
            </Signed>
          )}
        </Route>
        <Route path="/sweeps/:id">
          {(p) => (
            <Signed>
              <SweepDetail id={dec(p.id)} />
            </Signed>
          )}
        </Route>
        <Route>
          {() => (
            <Signed>
              <NotFound />
            </Signed>
          )}
        </Route>
      </Switch>
    </Suspense>
  );
}

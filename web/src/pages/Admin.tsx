import { api, must } from '../api/client';
import { AdminCatalog } from '../components/account/AdminCatalog';
import { AdminGrant } from '../components/account/AdminGrant';
import { AdminJobs } from '../components/account/AdminJobs';
import { AdminUsers } from '../components/account/AdminUsers';
import { Page } from '../components/Page';
import { Loading } from '../components/ui';
import { useAuth } from '../lib/auth';
import { useAsync } from '../lib/use-async';
import '../styles/account.css';

const SECTIONS = [
  ['admin-users', 'Accounts'],
  ['admin-credits', 'Credits'],
  ['admin-jobs', 'All jobs'],
  ['admin-catalog', 'Catalog'],
] as const;

function AdminPage({ meId }: { meId: string | undefined }) {
  const catalog = useAsync(async () => {
    const [t, b] = await Promise.all([must(api.GET('/v1/trainers')), must(api.GET('/v1/base-models'))]);
    return { trainers: t.data ?? [], baseModels: b.data ?? [] };
  }, []);
  return (
    <Page title="Admin">
      <nav className="admin-toc" aria-label="Admin sections">
        <ul>
          {SECTIONS.map(([id, label]) => (
            <li key={id}>
              <a href={`#${id}`}>{label}</a>
            </li>
          ))}
        </ul>
      </nav>

      <section className="admin-section" aria-labelledby="admin-users">
        <h2 id="admin-users">Accounts</h2>
        <AdminUsers meId={meId} />
      </section>

      <section className="admin-section" aria-labelledby="admin-credits">
        <h2 id="admin-credits">Credits</h2>
        <AdminGrant />
      </section>

      <section className="admin-section" aria-labelledby="admin-jobs">
        <h2 id="admin-jobs">All jobs</h2>
        <AdminJobs trainers={catalog.data?.trainers ?? []} />
      </section>

      <section className="admin-section" aria-labelledby="admin-catalog">
        <h2 id="admin-catalog">Catalog</h2>
        <AdminCatalog
          trainers={catalog.data?.trainers ?? []}
          baseModels={catalog.data?.baseModels ?? []}
          loading={catalog.loading}
          error={catalog.error}
          reload={catalog.reload}
        />
      </section>
    </Page>
  );
}

/** Admins only: accounts, credit grants, every owner's jobs, the catalog. Others get a plain answer, not a broken page. */
export default function Admin() {
  const { me } = useAuth();
  if (!me) return <Loading what="Checking your account" />;
  if (me.role !== 'admin') {
    return (
      <Page title="Admin">
        <div className="notice" data-testid="admins-only">
          <p>
            <strong>Admins only.</strong> This page manages accounts, credits and the catalog; your account ({me.username}) is not an admin.
          </p>
          <p>Ask an admin of this server if you need something changed.</p>
        </div>
      </Page>
    );
  }
  return <AdminPage meId={me.id} />;
}

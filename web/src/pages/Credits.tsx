import { useState } from 'react';
import { Link } from 'wouter';
import { api, must, type paths } from '../api/client';
import type { Transaction } from '../api/types';
import { LoadMore } from '../components/account/LoadMore';
import { usePaged } from '../components/account/paged';
import { Page } from '../components/Page';
import { ErrorNote, Loading } from '../components/ui';
import { fmtCredits, fmtDate } from '../lib/format';
import { useAsync } from '../lib/use-async';
import '../styles/account.css';
import { TableWrap } from '../components/account/TableWrap';

type TxQuery = NonNullable<paths['/v1/credits/transactions']['get']['parameters']['query']>;
type Purpose = NonNullable<TxQuery['purpose']>;
type Kind = NonNullable<TxQuery['type']>;

// Records over the API's own enums: a value the API adds breaks the build until it has a label.
const PURPOSES: Record<Purpose, string> = {
  training: 'Training',
  generation: 'Generation',
  purchase: 'Purchase',
  grant: 'Grant',
  refund: 'Refund',
};
const KINDS: Record<Kind, string> = {
  grant: 'grant',
  purchase: 'purchase',
  hold: 'hold (reserved for a job)',
  capture: 'capture (charged)',
  release: 'release (given back)',
};

function Amount({ n }: { n: number | undefined }) {
  if (n == null) return <>—</>;
  if (n === 0) return <>0</>;
  return <span className={n > 0 ? 'amount-in' : 'amount-out'}>{n > 0 ? `+${n.toLocaleString()}` : `−${Math.abs(n).toLocaleString()}`}</span>;
}

function JobLink({ t }: { t: Transaction }) {
  // A generation's id is its job's id.
  const id = t.job_id ?? t.generation_id;
  if (!id) return <>—</>;
  return <Link href={`/jobs/${encodeURIComponent(id)}`}>{id}</Link>;
}

/** Credits: what can be spent, what running and queued jobs hold, and the ledger behind both. */
export default function Credits() {
  const balance = useAsync(() => must(api.GET('/v1/credits/balance')), []);
  const [purpose, setPurpose] = useState<Purpose | ''>('');
  const [kind, setKind] = useState<Kind | ''>('');
  const tx = usePaged<Transaction>(
    (cursor) =>
      must(
        api.GET('/v1/credits/transactions', {
          params: { query: { limit: 50, ...(cursor ? { cursor } : {}), ...(purpose ? { purpose } : {}), ...(kind ? { type: kind } : {}) } },
        }),
      ),
    [purpose, kind],
  );
  const b = balance.data;

  return (
    <Page
      title="Credits"
      actions={
        <button
          type="button"
          onClick={() => {
            balance.reload();
            tx.reload();
          }}
        >
          Refresh
        </button>
      }
    >
      <ErrorNote error={balance.error} title="Could not load your balance" />
      {balance.loading && !b ? (
        <Loading what="Loading your balance" />
      ) : (
        b && (
          <section aria-labelledby="balance-title">
            <h2 id="balance-title" className="visually-hidden">
              Balance
            </h2>
            {b.billing === 'off' && <p className="notice">Billing is off on this server: jobs cost nothing and no credits are held.</p>}
            <dl className="balance-figures">
              <div>
                <dt>Balance</dt>
                <dd data-testid="balance">{fmtCredits(b.balance)}</dd>
              </div>
              <div>
                <dt>Held by queued and running jobs</dt>
                <dd data-testid="held">{fmtCredits(b.held)}</dd>
              </div>
              <div>
                <dt>Spent</dt>
                <dd>{fmtCredits(b.total_spent)}</dd>
              </div>
              <div>
                <dt>Granted</dt>
                <dd>{fmtCredits(b.total_granted)}</dd>
              </div>
              <div>
                <dt>Bought</dt>
                <dd>{fmtCredits(b.total_bought)}</dd>
              </div>
            </dl>
            <p className="help">
              A job holds its cost when it is created; the hold is charged when it succeeds and given back when it fails or is cancelled. Credits come from the
              sign-up grant, from an admin’s grants and from purchases that a payment bot records for your account.
            </p>
          </section>
        )
      )}

      <h2 id="tx-title">Transactions</h2>
      <div className="filters" role="group" aria-label="Filter transactions">
        <div>
          <label htmlFor="tx-purpose">Purpose</label>
          <select id="tx-purpose" value={purpose} onChange={(e) => setPurpose(e.target.value as Purpose | '')}>
            <option value="">All</option>
            {Object.entries(PURPOSES).map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="tx-kind">Kind</label>
          <select id="tx-kind" value={kind} onChange={(e) => setKind(e.target.value as Kind | '')}>
            <option value="">All</option>
            {Object.entries(KINDS).map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorNote error={tx.error} title="Could not load the transactions" />
      {tx.items.length === 0 && !tx.loading && !tx.error ? (
        <p className="notice">No transactions{purpose || kind ? ' match these filters' : ' yet'}.</p>
      ) : (
        <TableWrap label="Transactions table">
          <table aria-labelledby="tx-title" data-testid="transactions">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Purpose</th>
                <th scope="col">Kind</th>
                <th scope="col" className="num">
                  Balance effect
                </th>
                <th scope="col" className="num">
                  Credits
                </th>
                <th scope="col">Job</th>
                <th scope="col">Note</th>
              </tr>
            </thead>
            <tbody>
              {tx.items.map((t) => (
                <tr key={t.id} data-tx-id={t.id}>
                  <td>{fmtDate(t.created_at)}</td>
                  <td>{t.purpose ? PURPOSES[t.purpose] : '—'}</td>
                  <td>{t.type}</td>
                  <td className="num">
                    <Amount n={t.amount} />
                  </td>
                  <td className="num">{t.credits?.toLocaleString() ?? '—'}</td>
                  <td>
                    <JobLink t={t} />
                  </td>
                  <td>{t.note ?? (t.payment_id ? `payment ${t.payment_id}` : '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <LoadMore list={tx} what={['transaction', 'transactions']} />
    </Page>
  );
}

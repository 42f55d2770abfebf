import type { Balance, Job, Transaction } from '../../api/types';
import { fmtCredits, fmtDate } from '../../lib/format';
import { ErrorNote } from '../ui';
import { isActive } from './job';

/** What the job holds, was charged or got back, the balance now, and the job's credit entries. */
export function JobCredits({ job, balance, ledger, error }: { job: Job; balance: Balance | undefined; ledger: Transaction[] | undefined; error: unknown }) {
  const status = job.status ?? 'queued';
  const active = isActive(job);
  return (
    <section className="card" aria-labelledby="credits-h">
      <h2 id="credits-h">Credits</h2>
      <p data-testid="job-credits">
        {active
          ? `${fmtCredits(job.cost)} held while the job runs`
          : status === 'succeeded'
            ? `${fmtCredits(job.cost)} charged`
            : `${fmtCredits(job.cost)} refunded`}
      </p>
      {balance && (
        <p>
          Your balance: <strong data-testid="balance">{fmtCredits(balance.balance)}</strong>
          {balance.held ? <span className="muted"> ({fmtCredits(balance.held)} held by unfinished jobs)</span> : null}
        </p>
      )}
      <Ledger entries={ledger} />
      <ErrorNote error={error} />
    </section>
  );
}

function Ledger({ entries }: { entries: Transaction[] | undefined }) {
  if (!entries || entries.length === 0) return null;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Credit entries of this job</caption>
        <thead>
          <tr>
            <th scope="col">Entry</th>
            <th scope="col" className="num">
              Credits
            </th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((t) => (
            <tr key={t.id} data-type={t.type}>
              <td>{t.type}</td>
              <td className="num">{t.credits}</td>
              <td>{fmtDate(t.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

import { Link } from 'wouter';
import type { Balance } from '../../api/types';
import { fmtCredits, fmtNumber } from '../../lib/format';
import { ErrorNote } from '../ui';
import type { Price } from './pricing';

/** The 402's words: what it costs, what there is, and where more comes from. */
function ShortOfCredits({ cost, balance }: { cost: number; balance: number }) {
  return (
    <>
      This job costs {fmtCredits(cost)}, you have {fmtNumber(balance)} available: ask an admin for credits or buy some on the{' '}
      <Link href="/credits">Credits page</Link>.
    </>
  );
}

/**
 * The price section: what the job costs under the trainer's rule, the balance, and a warning
 * before a start that would be refused (unless the refusal itself is already shown).
 */
export function PriceNotice({
  price,
  bal,
  balanceError,
  refused,
}: {
  price: Price | undefined;
  bal: Balance | undefined;
  balanceError: unknown;
  /** A 402 answer is on the page (its own alert says it). */
  refused: boolean;
}) {
  const billingOn = bal?.billing !== 'off';
  const short = billingOn && price && bal?.balance !== undefined && price.credits > bal.balance;
  return (
    <section className="card price" aria-labelledby="price-title">
      <h2 id="price-title">Price</h2>
      <div role="status" aria-live="polite" data-testid="price">
        {!billingOn ? (
          <p>Billing is off on this server: training costs nothing.</p>
        ) : price ? (
          <p>
            This job costs <strong>{fmtCredits(price.credits)}</strong> <span className="muted">({price.how})</span>.{' '}
            {bal ? (
              <>
                Your balance: <strong>{fmtCredits(bal.balance)}</strong> available
                {bal.held ? ` (${fmtCredits(bal.held)} held by running jobs)` : ''}.
              </>
            ) : null}
          </p>
        ) : (
          <p className="muted">The trainer states no price.</p>
        )}
        {short && price && bal && !refused && (
          <p className="notice warn" data-testid="short-of-credits">
            <ShortOfCredits cost={price.credits} balance={bal.balance ?? 0} />
          </p>
        )}
      </div>
      <ErrorNote error={balanceError} title="Could not read your balance" />
    </section>
  );
}

/** The 402 from POST /v1/jobs, with the server's figures (the form's own as a fallback). */
export function InsufficientCredits({ cost, balance }: { cost: number; balance: number }) {
  return (
    <div className="notice warn" role="alert" data-testid="insufficient">
      <ShortOfCredits cost={cost} balance={balance} />
    </div>
  );
}

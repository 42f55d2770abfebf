import { useEffect, useId, useRef, type ReactNode } from 'react';
import { ApiError } from '../api/client';

/** An error as the API gave it: its message, its code, and the request id to quote to an operator. */
export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  const message = e ? e.message : error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      {title && <strong>{title}: </strong>}
      <span className="error-message">{message}</span>
      {e && (
        <span className="error-meta">
          {' '}
          (<code>{e.code}</code>
          {e.requestId && (
            <>
              , request id <code className="request-id">{e.requestId}</code>
            </>
          )}
          )
        </span>
      )}
    </div>
  );
}

/** A progress bar screen readers announce: a real role=progressbar with its value and label. */
export function ProgressBar({ value, label, detail }: { value: number | null; label: string; detail?: ReactNode }) {
  const pct = value == null ? null : Math.round(Math.max(0, Math.min(1, value)) * 1000) / 10;
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        {...(pct == null ? {} : { 'aria-valuenow': pct, 'aria-valuetext': `${pct}%` })}
      >
        <div className={`progress-fill${pct == null ? ' indeterminate' : ''}`} style={{ width: pct == null ? '30%' : `${pct}%` }} />
      </div>
      <div className="progress-text">
        {pct == null ? '' : `${pct}%`} {detail}
      </div>
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" role="status">
      {what}…
    </p>
  );
}

/** A labelled status badge (queued, running, succeeded, failed, …). */
export function Badge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status.replace('_', ' ')}</span>;
}

/**
 * A confirmation in a native modal <dialog>: focus moves into it, Escape closes it, and the
 * rest of the page is inert while it is open.
 */
export function Confirm({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
  danger,
}: {
  open: boolean;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
  danger?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={`${id}-t`} onClose={onClose} className="dialog">
      <h2 id={`${id}-t`}>{title}</h2>
      {children}
      <div className="row">
        <button type="button" className={danger ? 'danger' : 'primary'} onClick={onConfirm}>
          {confirmLabel}
        </button>
        <button type="button" onClick={onClose} autoFocus>
          Keep it
        </button>
      </div>
    </dialog>
  );
}

/** Bars for a handful of labelled values (class balance, probabilities): plain HTML, readable as a list. */
export function BarChart({
  title,
  bars,
  format = (v) => String(v),
}: {
  title: string;
  bars: { label: string; value: number }[];
  format?: (v: number) => string;
}) {
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  return (
    <figure className="bars">
      <figcaption>{title}</figcaption>
      <ul>
        {bars.map((b) => (
          <li key={b.label}>
            <span className="bar-label">{b.label}</span>
            <span className="bar-track" aria-hidden="true">
              <span className="bar-fill" style={{ width: `${(b.value / max) * 100}%` }} />
            </span>
            <span className="bar-value">{format(b.value)}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

/** Copies text and says so in a live region (API keys shown once, ids). */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const ref = useRef<HTMLSpanElement>(null);
  return (
    <>
      <button
        type="button"
        onClick={() => {
          void navigator.clipboard?.writeText(text).then(
            () => ref.current && (ref.current.textContent = 'Copied'),
            () => ref.current && (ref.current.textContent = 'Copy failed: select the text and copy it'),
          );
        }}
      >
        {label}
      </button>
      <span ref={ref} role="status" className="muted" />
    </>
  );
}

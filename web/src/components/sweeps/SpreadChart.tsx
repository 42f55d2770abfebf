import { fmtFigure } from './sweep';

export interface SpreadRow {
  label: string;
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
  best?: boolean;
}

/**
 * One line per grid point on a shared scale: its min–max range and its mean, with the figures
 * written out beside it (so the chart reads as a list without the picture).
 */
export function SpreadChart({ title, rows }: { title: string; rows: SpreadRow[] }) {
  if (rows.length === 0) return null;
  let lo = Math.min(...rows.map((r) => r.min));
  let hi = Math.max(...rows.map((r) => r.max));
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const at = (v: number) => `${((v - lo) / (hi - lo)) * 100}%`;
  return (
    <figure className="spread" data-points={rows.length}>
      <figcaption>{title}</figcaption>
      <ul>
        {rows.map((r) => (
          <li key={r.label} className={r.best ? 'best' : ''}>
            <span>
              {r.label}
              {r.best ? <strong> (best)</strong> : null}
            </span>
            <span className="spread-track" aria-hidden="true">
              <span className="spread-range" style={{ left: at(r.min), width: `calc(${at(r.max)} - ${at(r.min)})` }} />
              <span className="spread-mean" style={{ left: at(r.mean) }} />
            </span>
            <span className="spread-value">
              {fmtFigure(r.mean)} ± {fmtFigure(r.std)}{' '}
              <span className="muted">
                ({fmtFigure(r.min)}–{fmtFigure(r.max)}, n={r.n})
              </span>
            </span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

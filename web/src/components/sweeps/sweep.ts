import type { Sweep } from '../../api/types';

export interface MetricSummary {
  mean: number;
  std: number;
  min: number;
  max: number;
  values: number[];
}

export interface SweepPoint {
  params: Record<string, unknown>;
  jobs: { id: string; status: string; repeat: number | null }[];
  completed: number;
  metrics: Record<string, MetricSummary>;
}

/** The sweep's points, typed (the API documents them as free objects). */
export const pointsOf = (s: Sweep): SweepPoint[] => (s.points ?? []) as unknown as SweepPoint[];

export const fmtParam = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** "model_type=lstm, lr=0.01": a point in words. */
export const pointLabel = (params: Record<string, unknown>) =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${fmtParam(v)}`)
    .join(', ') || 'defaults';

export const sameParams = (a: Record<string, unknown>, b: Record<string, unknown> | undefined) =>
  !!b && Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => JSON.stringify(v) === JSON.stringify(b[k]));

export const fmtFigure = (x: number) => (Math.abs(x) >= 1000 || Number.isInteger(x) ? x.toLocaleString() : x.toPrecision(3));

export const sweepActive = (s: Pick<Sweep, 'status'>) => s.status === 'running' || s.status === 'cancelling';

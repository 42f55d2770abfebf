import { JOB_STATES } from '../jobs/states.js';
import type { JobRow } from '../jobs/types.js';

export interface MetricSummary {
  mean: number;
  std: number;
  min: number;
  max: number;
  values: number[];
}

/** Sample standard deviation (n-1): repeats are a sample of what the configuration yields. */
export function summarize(values: number[]): MetricSummary {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), values };
}

/**
 * How many jobs a grid × repeats makes, from the list lengths alone: nothing is expanded. The
 * product stops growing once it passes `cap` (the caller only needs "too many"), so ten keys of
 * fifty values cannot overflow or cost more than a few multiplications.
 */
export function gridJobCount(grid: Record<string, unknown[]>, repeats: number, cap: number): number {
  let n = repeats;
  for (const values of Object.values(grid)) {
    n *= values.length;
    if (n > cap) return n;
  }
  return n;
}

/** Every combination of the grid's values, in a stable order (keys sorted). Only for grids within the cap. */
export function expandGrid(grid: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let points: Array<Record<string, unknown>> = [{}];
  for (const key of Object.keys(grid).sort()) points = points.flatMap((p) => grid[key]!.map((v) => ({ ...p, [key]: v })));
  return points;
}

const key = (p: Record<string, unknown>) =>
  JSON.stringify(
    Object.keys(p)
      .sort()
      .map((k) => [k, p[k]]),
  );

/**
 * Per grid point: its jobs, and for each numeric result metric of the succeeded ones the
 * mean, standard deviation and every value — what comparing architectures needs.
 */
export function aggregate(grid: Record<string, unknown[]>, jobs: JobRow[], metric: string, goal: 'maximize' | 'minimize') {
  // Jobs grouped by point once: a list of sweeps must not cost points × jobs key computations.
  const byPoint = new Map<string, JobRow[]>();
  for (const j of jobs) {
    if (!j.sweep_point) continue;
    const k = key(j.sweep_point);
    const group = byPoint.get(k);
    if (group) group.push(j);
    else byPoint.set(k, [j]);
  }
  const points = expandGrid(grid).map((params) => {
    const mine = byPoint.get(key(params)) ?? [];
    const done = mine.filter((j) => j.status === JOB_STATES.SUCCEEDED);
    const names = new Set(done.flatMap((j) => Object.keys((j.result?.metrics ?? {}) as Record<string, number>)));
    // No prototype: a metric named `toString` or `__proto__` (the sweep's, or a trainer's) is
    // only ever one of these, never Object.prototype's member (a 500 on every read of the sweep).
    const metrics: Record<string, MetricSummary> = Object.create(null) as Record<string, MetricSummary>;
    for (const name of [...names].sort()) {
      const values = done
        .map((j) => (j.result?.metrics as Record<string, number> | undefined)?.[name])
        .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (values.length) metrics[name] = summarize(values);
    }
    return { params, jobs: mine.map((j) => ({ id: j.id, status: j.status, repeat: j.sweep_repeat })), completed: done.length, metrics };
  });
  const better = (a: MetricSummary, b: MetricSummary) => (goal === 'minimize' ? a.mean - b.mean : b.mean - a.mean);
  // Ranked best first on the sweep's metric (mean over repeats); points without it are left out.
  const ranking = points
    .filter((p) => Object.hasOwn(p.metrics, metric))
    .sort((a, b) => better(a.metrics[metric]!, b.metrics[metric]!))
    .map((p) => ({ params: p.params, mean: p.metrics[metric]!.mean, std: p.metrics[metric]!.std, n: p.metrics[metric]!.values.length }));
  const best = ranking[0];
  return {
    points,
    best: best ? { params: best.params, [metric]: best.mean } : null,
    ranking,
    notes: minirocketNotes(ranking, metric, goal),
  };
}

const fmt = (x: number) => x.toFixed(3).replace(/\.?0+$/, '') || '0';

/**
 * Issue #18: where the grid tries MiniRocket beside deep architectures, each deep model_type
 * whose best point scores worse than MiniRocket's best on the metric is named, so a user sees
 * that the fast baseline wins on this data. `auto` may itself resolve to MiniRocket: not a
 * deep architecture for this purpose.
 */
export function minirocketNotes(
  ranking: Array<{ params: Record<string, unknown>; mean: number; std: number }>,
  metric: string,
  goal: 'maximize' | 'minimize',
): string[] {
  const bestOf = new Map<string, { mean: number; std: number }>();
  // The ranking is best first: the first point seen per model_type is its best.
  for (const r of ranking) {
    const type = r.params.model_type;
    if (typeof type === 'string' && !bestOf.has(type)) bestOf.set(type, r);
  }
  const mr = bestOf.get('minirocket');
  if (!mr) return [];
  const notes: string[] = [];
  for (const [type, r] of bestOf) {
    if (type === 'minirocket' || type === 'auto') continue;
    const worse = goal === 'minimize' ? r.mean > mr.mean : r.mean < mr.mean;
    if (worse)
      notes.push(
        `${type}: ${metric} ${fmt(r.mean)} ± ${fmt(r.std)} is ${goal === 'minimize' ? 'above' : 'below'} minirocket's ${fmt(mr.mean)} ± ${fmt(mr.std)} on this data`,
      );
  }
  return notes;
}

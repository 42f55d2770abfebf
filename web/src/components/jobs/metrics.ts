import type { Series } from '../LineChart';

/** One metrics report of a job: the trainer's step, its epoch when it has one, and the values. */
export interface MetricReport {
  seq: number;
  step: number;
  epoch?: number;
  values: Record<string, number>;
}

/** A metrics event's data, checked (a trainer may send anything numeric-looking). */
export function toReport(seq: number, data: Record<string, unknown>): MetricReport | null {
  const values = data.values;
  if (typeof data.step !== 'number' || !values || typeof values !== 'object') return null;
  const clean: Record<string, number> = {};
  for (const [k, v] of Object.entries(values as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v)) clean[k] = v;
  return { seq, step: data.step, ...(typeof data.epoch === 'number' ? { epoch: data.epoch } : {}), values: clean };
}

/** Per-epoch charts when the trainer reports epochs, else per step. */
export function xAxis(reports: MetricReport[]): 'epoch' | 'step' {
  return reports.length > 0 && reports.every((r) => r.epoch !== undefined) ? 'epoch' : 'step';
}

/** The series of the named metrics (in that order), only those reported at least once. */
export function seriesOf(reports: MetricReport[], names: (n: string) => boolean, x: 'epoch' | 'step'): Series[] {
  const found = new Map<string, [number, number][]>();
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.values)) {
      if (!names(k)) continue;
      let pts = found.get(k);
      if (!pts) found.set(k, (pts = []));
      pts.push([x === 'epoch' ? r.epoch! : r.step, v]);
    }
  }
  return [...found.entries()].sort(([a], [b]) => metricOrder(a) - metricOrder(b) || a.localeCompare(b)).map(([label, points]) => ({ label, points }));
}

/** Training figures before validation ones. */
const metricOrder = (name: string) => (name.startsWith('val_') ? 1 : 0);

export const isLoss = (n: string) => n === 'loss' || n === 'val_loss';
export const isAccuracy = (n: string) => n === 'accuracy' || n === 'val_accuracy';

/** Which way a metric is better: losses, errors, times and sizes small, the rest (accuracy, F1, AUC) large. */
export function goalOf(name: string, declared?: { metric: string | null | undefined; goal: string | null | undefined }): 'maximize' | 'minimize' {
  if (declared?.metric === name && (declared.goal === 'maximize' || declared.goal === 'minimize')) return declared.goal;
  return /loss|error|perplexity|time|size|_ms$|_s$|_bytes$|_rows$/.test(name) ? 'minimize' : 'maximize';
}

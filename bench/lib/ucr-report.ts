/**
 * Summaries, the markdown table and the issue #18 verdicts of bench/ucr-eval.ts. A run is one
 * fit + test of one method on one dataset with one seed; failed runs are counted, never averaged.
 */

export interface UcrRun {
  dataset: string;
  /** `trainyard:<arch>` or `aeon:minirocket` / `aeon:dtw` */
  method: string;
  seed: number;
  ok: boolean;
  /** Per recording, on the standard test split (0..1). */
  accuracy?: number;
  /** aeon: fit(); Trainyard: the result's training_time_s. */
  fit_s?: number;
  /** aeon only: predict() on the whole test split (1-NN DTW does its work here, not in fit). */
  predict_s?: number;
  /** Trainyard only: the job's started_at → finished_at. */
  wall_s?: number;
  error?: string;
  extra?: Record<string, unknown>;
}

export interface UcrSummary {
  dataset: string;
  method: string;
  runs: number;
  failed: number;
  accuracy_mean: number;
  /** Sample standard deviation (n − 1); 0 for a single run. */
  accuracy_std: number;
  fit_s_mean: number;
  predict_s_mean: number | null;
  wall_s_mean: number | null;
}

export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  if (xs.length === 0) return { mean: NaN, std: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, std };
}

export function summarize(runs: readonly UcrRun[]): UcrSummary[] {
  const groups = new Map<string, UcrRun[]>();
  for (const r of runs) {
    const key = `${r.dataset}\u0000${r.method}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const ok = g.filter((r) => r.ok);
    const acc = meanStd(ok.map((r) => r.accuracy!));
    const walls = ok.filter((r) => r.wall_s !== undefined).map((r) => r.wall_s!);
    const predicts = ok.filter((r) => r.predict_s !== undefined).map((r) => r.predict_s!);
    return {
      dataset: g[0]!.dataset,
      method: g[0]!.method,
      runs: ok.length,
      failed: g.length - ok.length,
      accuracy_mean: acc.mean,
      accuracy_std: acc.std,
      fit_s_mean: meanStd(ok.map((r) => r.fit_s!)).mean,
      predict_s_mean: predicts.length ? meanStd(predicts).mean : null,
      wall_s_mean: walls.length ? meanStd(walls).mean : null,
    };
  });
}

const pct = (x: number): string => (Number.isFinite(x) ? (100 * x).toFixed(1) : '–');
const secs = (x: number | null): string => (x === null || !Number.isFinite(x) ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));

export function markdownTable(summary: readonly UcrSummary[]): string {
  const rows = summary.map((s) => [
    s.dataset,
    s.method,
    s.runs ? `${pct(s.accuracy_mean)} ± ${pct(s.accuracy_std)}` : '–',
    `${s.runs}${s.failed ? ` (+${s.failed} failed)` : ''}`,
    secs(s.fit_s_mean),
    secs(s.predict_s_mean),
    secs(s.wall_s_mean),
  ]);
  const head = ['dataset', 'method', 'test accuracy % (mean ± std)', 'runs', 'fit / training time s', 'test predict s', 'job wall time s'];
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * The issue's targets, per dataset: the default (`trainyard:auto`) within 2 points of aeon's
 * MiniRocket; Trainyard's MiniRocket within 1 point of aeon's at no more than 3× its fit time.
 */
export function verdicts(summary: readonly UcrSummary[]): string[] {
  const find = (d: string, m: string) => summary.find((s) => s.dataset === d && s.method === m && s.runs > 0);
  const out: string[] = [];
  for (const dataset of [...new Set(summary.map((s) => s.dataset))]) {
    const ref = find(dataset, 'aeon:minirocket');
    if (!ref) continue;
    const auto = find(dataset, 'trainyard:auto');
    if (auto) {
      const gap = 100 * (ref.accuracy_mean - auto.accuracy_mean);
      out.push(
        `${dataset}: default ${pct(auto.accuracy_mean)} % vs aeon MiniRocket ${pct(ref.accuracy_mean)} % (${gap.toFixed(1)} points behind; target ≤ 2): ${gap <= 2 ? 'met' : 'NOT met'}`,
      );
    }
    const mr = find(dataset, 'trainyard:minirocket');
    if (mr) {
      const gap = 100 * (ref.accuracy_mean - mr.accuracy_mean);
      const ratio = mr.fit_s_mean / ref.fit_s_mean;
      const met = gap <= 1 && ratio <= 3;
      out.push(
        `${dataset}: Trainyard MiniRocket ${pct(mr.accuracy_mean)} % in ${secs(mr.fit_s_mean)} s vs aeon ${pct(ref.accuracy_mean)} % in ${secs(ref.fit_s_mean)} s (${gap.toFixed(1)} points behind, ${ratio.toFixed(1)}× the fit time; targets ≤ 1 point, ≤ 3×): ${met ? 'met' : 'NOT met'}`,
      );
    }
  }
  return out;
}

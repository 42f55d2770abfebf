/** Small statistics and table helpers shared by the benchmarks. */

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary {
  const s = Float64Array.from(xs).sort();
  const arr = Array.from(s);
  let sum = 0;
  for (const x of arr) sum += x;
  return {
    n: arr.length,
    mean: arr.length ? sum / arr.length : NaN,
    min: arr[0] ?? NaN,
    p50: percentile(arr, 50),
    p95: percentile(arr, 95),
    p99: percentile(arr, 99),
    max: arr[arr.length - 1] ?? NaN,
  };
}

/** Milliseconds with a sensible number of decimals. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 100) return `${Math.round(x)} ms`;
  if (Math.abs(x) >= 10) return `${x.toFixed(1)} ms`;
  return `${x.toFixed(2)} ms`;
}

export function int(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
}

/** Prints a Markdown table (readable on a terminal, pasteable into bench/README.md). */
export function printTable(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = rows.map((r) => r.map(String));
  const width = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`;
  console.log(line(headers));
  console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells) console.log(line(r));
}

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across processes on one machine). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (msec: number) => new Promise<void>((r) => setTimeout(r, msec));

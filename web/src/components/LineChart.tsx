import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  /** [x, y] pairs; x need not be shared across series (steps and epochs on one chart). */
  points: [number, number][];
}

const PALETTE = ['#2c6bed', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#1098ad'];

/** Lines that share an x axis: the union of their x values, null where a series has no point. */
export function align(series: Series[]): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    for (const [x, y] of s.points) col[index.get(x)!] = Number.isFinite(y) ? y : null;
    return col;
  });
  return [xs, ...ys] as uPlot.AlignedData;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/**
 * A time-series chart (uPlot: small, fast, made for appending points). Updates in place as
 * points arrive; its text alternative names each series' latest value, so the chart is not
 * only pixels.
 */
export function LineChart({ title, xLabel, series, height = 260 }: { title: string; xLabel: string; series: Series[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.map((s) => s.label).join('\u0000');
  const data = useMemo(() => align(series), [series]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = cssVar('--fg', '#222');
    const grid = cssVar('--border', '#ddd');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: false } },
      axes: [{ ...axis, label: xLabel }, { ...axis }],
      series: [
        { label: xLabel },
        ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, points: { show: true, size: 4 } })),
      ],
      legend: { show: true },
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // A new set of series rebuilds the chart; new points only update it (below).
  }, [labels, xLabel, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  const summary = series
    .map((s) => {
      const last = s.points[s.points.length - 1];
      return last ? `${s.label}: ${last[1].toPrecision(4)} at ${xLabel} ${last[0]} (${s.points.length} points)` : `${s.label}: no points yet`;
    })
    .join('; ');
  const points = series.reduce((n, s) => n + s.points.length, 0);
  return (
    <figure className="chart" data-points={points}>
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}. ${summary}`} />
    </figure>
  );
}

// Human-readable on a terminal, `--json` for scripts: every command hands its result here.

export interface GlobalOpts {
  json?: boolean;
}

/** Prints `value` as JSON with --json, else calls `human` to print it for people. */
export function emit(opts: GlobalOpts, value: unknown, human: () => void): void {
  if (opts.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else human();
}

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

/** A plain aligned table: a header row, then one row per item; long cells are cut at 60 characters. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cut = (s: string) => (s.length > 60 ? `${s.slice(0, 59)}…` : s);
  const cells = rows.map((r) => columns.map((c) => cut(cell(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

export function printTable(rows: Array<Record<string, unknown>>, columns: string[], empty = '(none)'): void {
  console.log(rows.length ? table(rows, columns) : empty);
}

/** `key: value` lines for one object, nested objects as compact JSON. */
export function printFields(o: Record<string, unknown>, keys = Object.keys(o)): void {
  const w = Math.max(...keys.map((k) => k.length));
  for (const k of keys) if (o[k] !== undefined) console.log(`${`${k}:`.padEnd(w + 1)} ${cell(o[k])}`);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

// `trainyard watch JOB`: a live view of one job from its event stream: a progress bar with
// ETA, the latest metrics and a small chart of the loss; exits with the job's outcome.
// On a terminal the three lines are redrawn in place; otherwise (a pipe, a CI log) it prints
// a plain line at most once a second, and with --json one event per line.
import type { Command } from 'commander';
import { followJob, type JobEvent } from './events.js';
import { Api, ClientError, outcomeCode, seg, type Obj } from './http.js';
import { formatDuration, type GlobalOpts } from './output.js';

const BLOCKS = '▁▂▃▄▅▆▇█';

/** The last `width` values as unicode blocks, scaled between their min and max. */
export function sparkline(values: number[], width = 40): string {
  const v = values.slice(-width);
  if (!v.length) return '';
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return v.map((x) => BLOCKS[hi === lo ? 3 : Math.round(((x - lo) / (hi - lo)) * (BLOCKS.length - 1))]).join('');
}

export function bar(fraction: number, width = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

const fmt = (x: number) => (Math.abs(x) >= 1000 || Number.isInteger(x) ? String(x) : x.toPrecision(4));

/** What the view shows, updated from events. */
/** What `watch` shows of a job, from its events (exported for its unit test). */
export class View {
  status = 'queued';
  step = 0;
  total = 0;
  epoch: number | null = null;
  metrics: Record<string, number> = {};
  loss: number[] = [];
  /** Progress as the server stamped it (created_at), so a replayed backlog keeps its real pace. */
  private first: { at: number; step: number } | null = null;
  private latest: { at: number; step: number; seenAt: number } | null = null;

  apply(e: JobEvent): void {
    if (e.type === 'status') this.status = String(e.data.status);
    else if (e.type === 'progress') {
      this.step = Number(e.data.step ?? 0);
      this.total = Number(e.data.total_steps ?? 0);
      if (e.data.epoch !== undefined) this.epoch = Number(e.data.epoch);
      const at = Date.parse(e.created_at);
      if (Number.isFinite(at)) {
        this.first ??= { at, step: this.step };
        this.latest = { at, step: this.step, seenAt: Date.now() };
      }
    } else if (e.type === 'metrics') {
      Object.assign(this.metrics, e.data.values);
      const loss = e.data.values?.loss;
      if (typeof loss === 'number') this.loss.push(loss);
    } else if (e.type === 'result') Object.assign(this.metrics, e.data.metrics);
  }

  /**
   * Seconds left at the pace between the first and the latest progress event this view saw, by
   * their server times (events replayed on attaching to a running job arrive all at once), less
   * the time since the latest arrived (this clock only, so the two clocks need not agree).
   */
  eta(now = Date.now()): number | null {
    const f = this.first;
    const l = this.latest;
    if (!f || !l || l.step <= f.step || l.at <= f.at || !this.total) return null;
    const rate = (l.step - f.step) / ((l.at - f.at) / 1000);
    return Math.max(0, (this.total - l.step) / rate - (now - l.seenAt) / 1000);
  }

  fraction(): number {
    return this.total ? this.step / this.total : 0;
  }

  lines(): string[] {
    const pct = `${Math.round(this.fraction() * 100)}%`.padStart(4);
    const steps = this.total ? `step ${this.step}/${this.total}` : 'waiting for progress';
    const epoch = this.epoch !== null ? ` epoch ${fmt(this.epoch)}` : '';
    const metrics = Object.entries(this.metrics)
      .slice(0, 6)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join('  ');
    const last = this.loss.at(-1);
    return [
      `${this.status.padEnd(9)} ${bar(this.fraction())} ${pct} | ${steps}${epoch} | ETA ${formatDuration(this.eta())}`,
      `metrics   ${metrics || '(none yet)'}`,
      `loss      ${this.loss.length ? `${sparkline(this.loss)} ${fmt(last!)}` : '(none yet)'}`,
    ];
  }
}

/**
 * A look that a blip must not turn into "the job failed" (exit 1): tried again, up to about 40 s
 * in all, while the server cannot be reached or answers 429 or 5xx.
 */
async function transient<T>(look: () => Promise<T>): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await look();
    } catch (err) {
      const status = err instanceof ClientError ? (err.status ?? 0) : 0;
      const passing = err instanceof ClientError && (err.code === 'UNREACHABLE' || status === 429 || status >= 500);
      if (!passing || failures >= 12) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** failures)));
    }
  }
}

/** Follows the job to its end, drawing as it goes; resolves with the exit status for its outcome. */
export async function watchJob(api: Api, id: string, g: GlobalOpts): Promise<number> {
  const job = await transient(() => api.get<Obj>(`/v1/jobs/${seg(id)}`));
  const view = new View();
  view.status = job.status;
  const tty = Boolean(process.stdout.isTTY) && !g.json;
  let drawn = 0;
  let lastPlain = 0;
  let lastLine = '';
  const draw = (force = false) => {
    if (g.json) return;
    const lines = view.lines();
    if (tty) {
      // Back to the top of the block, then rewrite each line (erasing what was there).
      process.stdout.write((drawn ? `\x1b[${drawn}A` : '') + lines.map((l) => `\x1b[2K${l}\n`).join(''));
      drawn = lines.length;
    } else if (force || Date.now() - lastPlain >= 1000) {
      // One line per look, never the same line twice in a row.
      const line = lines.map((l) => l.replace(/^(metrics|loss)\s+/, '$1 ')).join(' | ');
      if (line === lastLine) return;
      lastPlain = Date.now();
      lastLine = line;
      console.log(line);
    }
  };
  let timer: NodeJS.Timeout | null = null;
  if (tty) {
    draw();
    timer = setInterval(() => draw(), 500); // the ETA ticks between events
  }
  let status: string;
  try {
    status = await followJob(api, id, (e) => {
      view.apply(e);
      if (g.json) console.log(JSON.stringify(e));
      else if (!tty && (e.type === 'progress' || e.type === 'status')) draw(e.type === 'status');
      else if (tty) draw();
    });
  } finally {
    if (timer) clearInterval(timer);
  }
  view.status = status;
  if (tty) draw();
  const done = await transient(() => api.get<Obj>(`/v1/jobs/${seg(id)}`));
  if (!g.json) {
    if (!tty) draw(true);
    if (done.status === 'succeeded') console.log(`succeeded: model ${done.output?.model_name ?? ''} (version id ${done.model_version_id ?? '-'})`);
    else if (done.error) console.log(`${done.status}: ${done.error.code}: ${done.error.message}`);
    else console.log(done.status);
  }
  return outcomeCode(done.status);
}

export function register(program: Command, g: () => GlobalOpts): void {
  program
    .command('watch')
    .argument('<job>', 'job id')
    .description('follow a job live (progress bar, ETA, metrics, loss chart); exit status 0 succeeded, 1 failed, 3 cancelled')
    .action(async (id: string) => {
      const api = await Api.fromEnv();
      process.exitCode = await watchJob(api, id, g());
    });
}

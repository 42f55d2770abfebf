import type { PublicJob } from '../../domain/jobs/shape.js';
import type { Ctx } from './context.js';

/** Jobs whose lines GET /logs gathers (the newest), and lines read from each: bounded work per request. */
const JOBS = 20;
const LINES_PER_JOB = 200;

type Level = 'INFO' | 'WARNING' | 'ERROR';
interface Line {
  timestamp: string;
  level: Level;
  message: string;
  job_id: string;
}

const LEVELS: Record<string, Level> = { error: 'ERROR', fatal: 'ERROR', warn: 'WARNING', warning: 'WARNING' };

/**
 * The document's log: for each of the facade's recent jobs, when it started and ended, each
 * epoch's evaluation, and the trainer's own log lines (stderr is WARNING), newest last.
 */
export async function recentLogs(c: Ctx, limit: number): Promise<Line[]> {
  const jobs = (await c.s.jobs.list(c.account.id, JOBS, undefined, {})).data;
  const lines: Line[] = [];
  for (const j of jobs) lines.push(...(await jobLines(c, j)));
  lines.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  return lines.slice(-limit);
}

async function jobLines(c: Ctx, j: PublicJob): Promise<Line[]> {
  const name = (j.output as { model_name?: string } | null)?.model_name ?? '';
  const line = (timestamp: string, level: Level, message: string): Line => ({ timestamp, level, message, job_id: j.id });
  const out: Line[] = [line(j.created_at, 'INFO', `Training job queued for ${name}`)];
  if (j.started_at) out.push(line(j.started_at, 'INFO', `Training started for ${name}`));
  for (const l of await c.s.jobs.logs(c.account.id, j.id, LINES_PER_JOB, null)) {
    const level = LEVELS[String(l.level)] ?? (l.stream === 'stderr' ? 'WARNING' : 'INFO');
    out.push(line(l.at, level, String(l.message)));
  }
  const total = Number(j.hyperparameters.num_epochs ?? 0);
  const series = (await c.s.jobs.metrics(c.account.id, j.id)).metrics as Record<string, Array<{ epoch?: number; value: number; at: string }>>;
  const f1 = series.val_f1 ?? [];
  for (const p of series.val_loss ?? []) {
    const score = f1.find((x) => x.epoch === p.epoch);
    const epoch = Math.round(p.epoch ?? 0);
    out.push(line(p.at, 'INFO', `Epoch ${epoch}/${total} completed: val_loss=${p.value.toFixed(4)}${score ? `, val_f1=${score.value.toFixed(4)}` : ''}`));
  }
  if (j.finished_at) {
    if (j.status === 'succeeded') out.push(line(j.finished_at, 'INFO', `Training completed for ${name}`));
    else if (j.status === 'failed') out.push(line(j.finished_at, 'ERROR', `Training failed for ${name}: ${j.error?.message ?? 'unknown error'}`));
    else out.push(line(j.finished_at, 'WARNING', `Training cancelled for ${name}`));
  }
  return out;
}

import type { Db } from '../../db/db.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { decodeCursor, newId, toPage } from '../../ids.js';
import type { CatalogService } from '../catalog/service.js';
import { isOpen, JOB_STATES } from '../jobs/states.js';
import type { JobRow } from '../jobs/types.js';
import type { CreateJobInput } from '../jobs/schema.js';
import type { JobsService, PreparedJob } from '../jobs/service.js';
import { publicJob, type PublicJob } from '../jobs/shape.js';
import { aggregate, expandGrid, gridJobCount } from './aggregate.js';
import * as q from './queries.js';
import type { CreateSweepInput } from './schema.js';

export const MAX_SWEEP_JOBS = 200;

function state(s: q.SweepRow, jobs: JobRow[]): string {
  const active = jobs.some((j) => isOpen(j.status));
  if (active) return s.cancelled_at ? 'cancelling' : 'running';
  if (s.cancelled_at) return 'cancelled';
  const ok = (j: JobRow) => j.status === JOB_STATES.SUCCEEDED;
  return jobs.every(ok) ? 'succeeded' : jobs.some(ok) ? 'partial' : 'failed';
}

/**
 * A sweep is a grid of hyperparameters × repeats, one ordinary child job each (own credit
 * hold, own place in the queue). All children are created in one transaction: a sweep the
 * balance cannot cover is refused whole (402) rather than half-started. Every run becomes a
 * version of one model, so the registry's `best` alias points at the winning configuration.
 */
export class SweepsService {
  constructor(private readonly d: { db: Db; jobs: JobsService; catalog: CatalogService }) {}

  async create(ownerId: string, input: CreateSweepInput) {
    const repeats = input.repeats ?? 1;
    if (Object.keys(input.grid).length === 0) throw new ValidationError('EMPTY_GRID', 'grid needs at least one hyperparameter with values');
    // The cap is decided from the list lengths before anything is expanded: a grid of ten keys
    // of fifty values must cost a few multiplications, not billions of objects.
    const total = gridJobCount(input.grid, repeats, MAX_SWEEP_JOBS);
    if (total > MAX_SWEEP_JOBS) {
      const shape = Object.values(input.grid)
        .map((v) => v.length)
        .join(' × ');
      throw new ValidationError(
        'SWEEP_TOO_LARGE',
        `a grid of ${shape} values × ${repeats} repeats makes more than ${MAX_SWEEP_JOBS} jobs; at most ${MAX_SWEEP_JOBS}`,
        {
          max_jobs: MAX_SWEEP_JOBS,
        },
      );
    }
    await this.d.jobs.checkQueueRoom(ownerId, total);
    const trainer = this.d.catalog.listTrainers().find((t) => t.id === input.trainer);
    const points = expandGrid(input.grid);
    // With a test set, the held-out figure is what the grid points are compared on.
    const metric = input.metric ?? (input.test_dataset_id ? 'test_accuracy' : (trainer?.primary_metric.name ?? 'val_accuracy'));
    const id = newId('swp');
    const output = input.output ?? { model_name: `sweep-${id.slice(4, 14)}` };
    // Validate and price every child before any money moves; each gets its own seed per repeat
    // (unless the grid sweeps the seed itself), so repeats measure variance, not one run twice.
    // The first child is checked whole; the others differ only in hyperparameters.
    const takesSeed = !!(trainer?.hyperparameters.properties as Record<string, unknown> | undefined)?.seed;
    const prepared: Array<{ p: PreparedJob; point: Record<string, unknown>; r: number }> = [];
    for (const point of points) {
      for (let r = 0; r < repeats; r++) {
        const hp = { ...input.hyperparameters, ...point };
        if (!('seed' in point) && repeats > 1 && takesSeed) hp.seed = Number(input.hyperparameters?.seed ?? 42) + r;
        const child: CreateJobInput = {
          trainer: input.trainer,
          dataset_id: input.dataset_id,
          ...(input.validation_dataset_id ? { validation_dataset_id: input.validation_dataset_id } : {}),
          ...(input.test_dataset_id ? { test_dataset_id: input.test_dataset_id } : {}),
          ...(input.base_model ? { base_model: input.base_model } : {}),
          hyperparameters: hp,
          output,
          metadata: { sweep_id: id, sweep_point: point, repeat: r },
        };
        try {
          const first = prepared[0]?.p;
          prepared.push({ p: first ? this.d.jobs.prepareVariant(first, child) : await this.d.jobs.prepare(ownerId, child), point, r });
        } catch (err) {
          if (err instanceof ValidationError) throw new ValidationError(err.code, `grid point ${JSON.stringify(point)}: ${err.message}`, err.details);
          throw err;
        }
      }
    }
    const cost = prepared.reduce((s, x) => s + x.p.cost, 0);
    await this.d.db.transaction(async (tx) => {
      await q.insertSweep(tx, {
        id,
        owner_id: ownerId,
        trainer: input.trainer,
        dataset_id: input.dataset_id,
        validation_dataset_id: input.validation_dataset_id ?? null,
        test_dataset_id: input.test_dataset_id ?? null,
        hyperparameters: input.hyperparameters ?? {},
        grid: input.grid,
        repeats,
        metric,
        output_prefix: output.model_name,
        cost,
      });
      for (const x of prepared) await this.d.jobs.insertPrepared(tx, ownerId, x.p, { sweep: { id, point: x.point, repeat: x.r } });
    });
    return this.get(ownerId, id);
  }

  async get(ownerId: string, id: string) {
    const s = await q.sweepById(this.d.db, ownerId, id);
    if (!s) throw new NotFoundError('sweep', id);
    const jobs = await q.children(this.d.db, id);
    const trainer = this.d.catalog.listTrainers().find((t) => t.id === s.trainer);
    // The trainer says which way its primary metric goes; for others, losses, errors, times and
    // sizes are better small.
    const goal =
      trainer?.primary_metric.name === s.metric ? trainer.primary_metric.goal : /loss|error|time|size|_ms|_s$/.test(s.metric) ? 'minimize' : 'maximize';
    const counts: Record<string, number> = {};
    for (const j of jobs) counts[j.status] = (counts[j.status] ?? 0) + 1;
    return {
      id: s.id,
      trainer: s.trainer,
      dataset_id: s.dataset_id,
      test_dataset_id: s.test_dataset_id,
      hyperparameters: s.hyperparameters,
      grid: s.grid,
      repeats: s.repeats,
      metric: s.metric,
      metric_goal: goal,
      model_name: s.output_prefix,
      cost: s.cost,
      status: state(s, jobs),
      job_counts: counts,
      ...aggregate(s.grid, jobs, s.metric, goal),
      created_at: s.created_at.toISOString(),
      cancelled_at: s.cancelled_at?.toISOString() ?? null,
    };
  }

  /** A sweep's jobs as the API shows them, oldest first (what a caller needs beyond the per-point summaries: each run's own result). */
  async children(ownerId: string, id: string): Promise<PublicJob[]> {
    const s = await q.sweepById(this.d.db, ownerId, id);
    if (!s) throw new NotFoundError('sweep', id);
    return (await q.children(this.d.db, id)).map((j) => publicJob(j));
  }

  async list(ownerId: string, limit: number, cursor?: string) {
    const rows = await q.listSweeps(this.d.db, ownerId, limit, decodeCursor(cursor));
    const page = toPage(rows, limit, (r) => r.id);
    return { data: await Promise.all(page.data.map((sid) => this.get(ownerId, sid))), next_cursor: page.next_cursor };
  }

  /**
   * Cancels every unfinished child in one transaction; finished ones keep their results. A sweep
   * with nothing left to cancel is not marked: a finished one keeps its status (succeeded,
   * partial, failed) instead of reading "cancelled" for a cancel that stopped nothing.
   */
  async cancel(ownerId: string, id: string) {
    const s = await q.sweepById(this.d.db, ownerId, id);
    if (!s) throw new NotFoundError('sweep', id);
    await this.d.db.transaction(async (tx) => {
      const open = (await q.children(tx, id, true)).filter((j) => isOpen(j.status));
      if (open.length === 0) return;
      await q.markCancelled(tx, id);
      for (const j of open) await this.d.jobs.cancelIn(tx, j);
    });
    return this.get(ownerId, id);
  }
}

import type { Queryable } from '../../db/db.js';
import type { JobRow } from '../jobs/types.js';
import { cursorTime } from '../../ids.js';

export interface SweepRow {
  id: string;
  owner_id: string;
  trainer: string;
  dataset_id: string | null;
  validation_dataset_id: string | null;
  test_dataset_id: string | null;
  hyperparameters: Record<string, unknown>;
  grid: Record<string, unknown[]>;
  repeats: number;
  metric: string;
  output_prefix: string;
  cost: number;
  cancelled_at: Date | null;
  created_at: Date;
}

export async function insertSweep(db: Queryable, s: Omit<SweepRow, 'cancelled_at' | 'created_at'>): Promise<SweepRow> {
  const { rows } = await db.query<SweepRow>(
    `insert into sweeps (id, owner_id, trainer, dataset_id, validation_dataset_id, hyperparameters, grid, repeats, metric, output_prefix, cost, test_dataset_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning *`,
    [
      s.id,
      s.owner_id,
      s.trainer,
      s.dataset_id,
      s.validation_dataset_id,
      JSON.stringify(s.hyperparameters),
      JSON.stringify(s.grid),
      s.repeats,
      s.metric,
      s.output_prefix,
      s.cost,
      s.test_dataset_id,
    ],
  );
  return rows[0]!;
}

export async function sweepById(db: Queryable, ownerId: string, id: string): Promise<SweepRow | null> {
  const { rows } = await db.query<SweepRow>('select * from sweeps where id = $1 and owner_id = $2', [id, ownerId]);
  return rows[0] ?? null;
}

export async function listSweeps(db: Queryable, ownerId: string, limit: number, after: { t: string; id: string } | null): Promise<SweepRow[]> {
  const { rows } = await db.query<SweepRow>(
    `select *, ${cursorTime()} from sweeps where owner_id = $1 and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::text))
      order by created_at desc, id desc limit $2`,
    [ownerId, limit + 1, after?.t ?? null, after?.id ?? null],
  );
  return rows;
}

export async function children(db: Queryable, sweepId: string, lock = false): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(`select * from jobs where sweep_id = $1 order by created_at, id${lock ? ' for update' : ''}`, [sweepId]);
  return rows;
}

export async function markCancelled(db: Queryable, id: string): Promise<void> {
  await db.query('update sweeps set cancelled_at = coalesce(cancelled_at, now()) where id = $1', [id]);
}

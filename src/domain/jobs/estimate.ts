import type { Queryable } from '../../db/db.js';
import type { Trainer } from '../catalog/types.js';
import { measuredSecondsPerUnit } from './queries.js';

export type EstimateSource = 'history' | 'catalog' | 'none';
export const ESTIMATE_SOURCES: readonly EstimateSource[] = ['history', 'catalog', 'none'];

/** How many of a trainer's latest measured runs the median is taken over. */
export const HISTORY_RUNS = 10;

/** Seconds per unit of a trainer's work counter (steps, epochs) and where the figure comes from. */
export interface Rate {
  param: string;
  secondsPerUnit: number;
  source: 'history' | 'catalog';
}

/**
 * The trainer's rate on this deployment: the median of its latest runs at the same GPU count
 * (what this hardware actually does, loading and staging included), else the catalog's figure,
 * else null. One query per job creation (a sweep asks once for all its children).
 */
export async function rateFor(db: Queryable, trainer: Trainer, gpus: number): Promise<Rate | null> {
  const e = trainer.estimate;
  if (!e?.param) return null;
  const measured = await measuredSecondsPerUnit(db, trainer.id, gpus, e.param, HISTORY_RUNS);
  if (measured !== null && Number.isFinite(measured) && measured >= 0) return { param: e.param, secondsPerUnit: measured, source: 'history' };
  if (e.seconds_per_unit) return { param: e.param, secondsPerUnit: e.seconds_per_unit, source: 'catalog' };
  return null;
}

/** The job's expected duration in whole seconds: rate × its own count of units; null when either is unknown. */
export function estimate(rate: Rate | null, hyperparameters: Record<string, unknown>): { seconds: number; source: Rate['source'] } | null {
  const units = hyperparameters[rate?.param ?? ''];
  if (!rate || typeof units !== 'number' || !(units > 0)) return null;
  return { seconds: Math.max(1, Math.round(rate.secondsPerUnit * units)), source: rate.source };
}

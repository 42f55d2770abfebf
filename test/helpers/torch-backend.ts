import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import type { TrainerDef } from '../../src/domain/catalog/types.js';
import type { TrainerEvent } from '../../src/trainers/protocol.js';
import { TEST_PYTHON } from './python.js';
import { jobSpec, ofType, runBuiltinTrainer, type SpecData, type TrainerRun } from './trainer-run.js';

/**
 * The built-in trainers' torch backends (issue #15), run as the worker runs them: the trainer
 * process with the trainer environment's interpreter and the packs on PYTHONPATH.
 */
export const TORCH_ENV = { TRAINER_PYTHON: TEST_PYTHON, PYTHONPATH: path.resolve('trainers/python') };

export interface BackendRunOptions {
  /** Replaces TORCH_ENV ({} for a run without Python). */
  env?: Record<string, string>;
  resumeFrom?: string;
  onEvent?: (e: TrainerEvent, child: ChildProcess) => void;
}

/** `train(hp)`: one job of `def` on `dataset` in its own folder under `dir()`, `base` hyperparameters under `hp`. */
export function backendTrainer(dir: () => string, def: TrainerDef, base: Record<string, unknown>, dataset: () => SpecData) {
  let seq = 0;
  return (hp: Record<string, unknown>, o: BackendRunOptions = {}): Promise<TrainerRun> => {
    const id = `job_${++seq}`;
    const spec = jobSpec({
      job_id: id,
      trainer: def.id,
      hyperparameters: specHyperparameters(def, { ...base, ...hp }),
      dataset: dataset(),
      output_dir: path.join(dir(), id, 'out'),
      checkpoint_dir: path.join(dir(), id, 'ckpt'),
      resume_from: o.resumeFrom ?? null,
    });
    return runBuiltinTrainer(spec, path.join(dir(), `${id}.json`), { env: o.env ?? TORCH_ENV, ...(o.onEvent ? { onEvent: o.onEvent } : {}) });
  };
}

/** The run's one result event (its stderr as the message when there is none). */
export function resultOf(run: TrainerRun) {
  const r = ofType(run, 'result');
  expect(r, run.stderr.slice(-2000)).toHaveLength(1);
  return r[0]!;
}


import { AppError, ConflictError, ValidationError } from '../errors.js';
import type { Db } from '../db/db.js';
import type { CatalogService } from '../domain/catalog/service.js';
import type { TrainerDef } from '../domain/catalog/types.js';
import * as rq from '../domain/registry/queries.js';
import type { RegistryService } from '../domain/registry/service.js';
import type { ModelCache} from './cache.js';
import { ModelLoadError, type Predictor } from './cache.js';
import { hasPythonPredictor, loadPythonPredictor } from '../python/predictor.js';
import type { LoadInput, PredictInput } from './schema.js';

export const MAX_INSTANCES = 1000;

/** Whether models of this trainer can be served: built-ins have predictor.ts, Python packs predict.py. */
export function canServe(t: TrainerDef): boolean {
  return t.runtime.type === 'builtin' || hasPythonPredictor(t);
}

/**
 * Built-in trainers ship a predictor.ts beside their main.ts, which runs in the API process;
 * Python packs ship predict.py, which runs as a child process per loaded model.
 */
export function predictorModules(python: string) {
  return async (t: TrainerDef): Promise<{ loadPredictor(dir: string): Promise<Predictor> }> => {
    if (hasPythonPredictor(t)) return { loadPredictor: (dir) => loadPythonPredictor(python, t, dir) };
    return loadBuiltinPredictorModule(t);
  };
}

async function loadBuiltinPredictorModule(t: TrainerDef): Promise<{ loadPredictor(dir: string): Promise<Predictor> }> {
  if (t.runtime.type !== 'builtin') throw new ConflictError('PREDICTION_NOT_SUPPORTED', `models of ${t.id} cannot be served`);
  const url = new URL(`../trainers/builtin/${t.runtime.entry}/predictor.js`, import.meta.url);
  try {
    return (await import(url.href)) as { loadPredictor(dir: string): Promise<Predictor> };
  } catch (err) {
    throw new ConflictError('PREDICTION_NOT_SUPPORTED', `${t.id} has no predictor: ${(err as Error).message}`);
  }
}

export class ServingService {
  constructor(private readonly d: { db: Db; registry: RegistryService; catalog: CatalogService; cache: ModelCache }) {}

  private async target(callerId: string, ref: string, which: LoadInput) {
    if (which.version !== undefined && which.alias !== undefined) throw new ValidationError('VERSION_OR_ALIAS', 'give version or alias, not both');
    const m = await this.d.registry.resolve(callerId, ref);
    const v = await this.d.registry.versionRow(m, String(which.version ?? which.alias ?? 'latest'));
    const totalBytes = (await rq.artifacts(this.d.db, [v.id])).reduce((s, a) => s + a.bytes, 0);
    let trainer: TrainerDef;
    try {
      trainer = this.d.catalog.trainer(m.trainer);
    } catch {
      throw new ConflictError('PREDICTION_NOT_SUPPORTED', `trainer ${m.trainer} is no longer installed`);
    }
    if (!canServe(trainer)) throw new ConflictError('PREDICTION_NOT_SUPPORTED', `models of ${trainer.id} cannot be served through predict`);
    return { m, v, key: { versionId: v.id, model: m.name, owner: m.owner_id, version: v.version, totalBytes }, trainer };
  }

  /** Same preprocessing as training (the trainer's own predictor); counts toward popularity. */
  async predict(callerId: string, ref: string, body: PredictInput) {
    if (body.instances.length > MAX_INSTANCES) throw new ValidationError('TOO_MANY_INSTANCES', `at most ${MAX_INSTANCES} instances per request`);
    const { m, v, key, trainer } = await this.target(callerId, ref, body);
    let predictor: Predictor;
    try {
      predictor = await this.d.cache.get(key, trainer);
    } catch (err) {
      if (err instanceof ModelLoadError) throw new AppError(err.code, err.message, { status: 500, cause: err });
      throw err;
    }
    const t0 = performance.now();
    let predictions;
    try {
      predictions = await predictor.predict(body.instances);
    } catch (err) {
      throw new ValidationError('INVALID_INSTANCES', (err as Error).message);
    }
    const tookMs = performance.now() - t0;
    await rq.bumpPopularity(this.d.db, m.id);
    return { model: m.name, version: v.version, predictions, took_ms: Math.round(tookMs * 1000) / 1000 };
  }

  /** Starts loading (or reports the load in progress) without waiting for it. */
  async load(callerId: string, ref: string, which: { version?: number; alias?: string }) {
    const { key, trainer } = await this.target(callerId, ref, which);
    this.d.cache.get(key, trainer).catch(() => {});
    return this.status(callerId).find((e) => e.version_id === key.versionId)!;
  }

  /** Models in this process's cache that the caller may see: their own, or public ones. */
  status(callerId: string) {
    return this.d.cache
      .list()
      .filter((e) => e.owner === callerId)
      .map((e) => ({
        model: e.model,
        version: e.version,
        version_id: e.versionId,
        trainer: e.trainer,
        state: e.state,
        progress: e.totalBytes > 0 ? Math.min(1, e.loadedBytes / e.totalBytes) : e.state === 'ready' ? 1 : 0,
        bytes: e.totalBytes,
        error: e.error,
        last_used_at: new Date(e.lastUsed).toISOString(),
      }));
  }
}


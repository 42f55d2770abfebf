import { AppError, ConflictError, PayloadTooLargeError, ValidationError } from '../errors.js';
import type { CatalogService } from '../domain/catalog/service.js';
import type { TrainerDef } from '../domain/catalog/types.js';
import type { RegistryService } from '../domain/registry/service.js';
import { PredictorFailure, type Predictor } from '../trainers/predictor.js';
import type { Entry, ModelCache, PredictorSource } from './cache.js';
import { ModelLoadError } from './cache.js';
import type { LoadInput, PredictInput } from './schema.js';

export class ServingService {
  /** `predictors`: the trainer runtimes' answer to whether (and how) a trainer's models are served. */
  /** `maxInstances`: PREDICT_MAX_INSTANCES (src/config.ts). */
  constructor(
    private readonly d: { registry: RegistryService; catalog: CatalogService; cache: ModelCache; predictors: PredictorSource; maxInstances: number },
  ) {}

  private async target(callerId: string, ref: string, which: LoadInput) {
    if (which.version !== undefined && which.alias !== undefined) throw new ValidationError('VERSION_OR_ALIAS', 'give version or alias, not both');
    const m = await this.d.registry.resolve(callerId, ref);
    const v = await this.d.registry.versionRow(m, String(which.version ?? which.alias ?? 'latest'));
    const totalBytes = await this.d.registry.artifactBytes(v.id);
    let trainer: TrainerDef;
    try {
      trainer = this.d.catalog.trainer(m.trainer);
    } catch {
      throw new ConflictError('PREDICTION_NOT_SUPPORTED', `trainer ${m.trainer} is no longer installed`);
    }
    if (!this.d.predictors(trainer)) throw new ConflictError('PREDICTION_NOT_SUPPORTED', `models of ${trainer.id} cannot be served through predict`);
    return { m, v, key: { versionId: v.id, model: m.name, owner: m.owner_id, version: v.version, totalBytes }, trainer };
  }

  /** Same preprocessing as training (the trainer's own predictor); counts toward popularity. */
  async predict(callerId: string, ref: string, body: PredictInput) {
    const max = this.d.maxInstances;
    if (body.instances.length > max)
      throw new PayloadTooLargeError(
        'TOO_MANY_INSTANCES',
        `${body.instances.length} instances, at most ${max} per predict request (setting PREDICT_MAX_INSTANCES); split them over several requests`,
        { max_instances: max },
      );
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
      if (err instanceof PredictorFailure) {
        this.d.cache.drop(key.versionId, predictor);
        throw new AppError('PREDICTOR_FAILED', `${err.message}; the model is loaded again on the next request`, { status: 503, cause: err });
      }
      throw new ValidationError('INVALID_INSTANCES', (err as Error).message);
    }
    const tookMs = performance.now() - t0;
    await this.d.registry.countUse(m.id);
    return { model: m.name, version: v.version, predictions, took_ms: Math.round(tookMs * 1000) / 1000 };
  }

  /** Starts loading (or reports the load in progress) without waiting for it. */
  async load(callerId: string, ref: string, which: { version?: number; alias?: string }) {
    const { key, trainer } = await this.target(callerId, ref, which);
    this.d.cache.get(key, trainer).catch(() => {});
    // The caller may see this entry (target() resolved the model for them: theirs, or public),
    // whoever owns it; a public model of another user is not in the caller's own status list.
    const entry = this.d.cache.list().find((e) => e.versionId === key.versionId);
    if (!entry) throw new AppError('SHUTTING_DOWN', 'the server is shutting down; load the model on another', { status: 503 });
    return view(entry);
  }

  /** The models of the caller in this process's cache. */
  status(callerId: string) {
    return this.d.cache
      .list()
      .filter((e) => e.owner === callerId)
      .map(view);
  }
}

/** One cache entry as /v1/serving/status shows it. */
function view(e: Entry) {
  return {
    model: e.model,
    version: e.version,
    version_id: e.versionId,
    trainer: e.trainer,
    state: e.state,
    progress: e.totalBytes > 0 ? Math.min(1, e.loadedBytes / e.totalBytes) : e.state === 'ready' ? 1 : 0,
    bytes: e.totalBytes,
    error: e.error,
    last_used_at: new Date(e.lastUsed).toISOString(),
  };
}

import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { TrainerDef } from '../domain/catalog/types.js';
import type { RegistryService } from '../domain/registry/service.js';
import { AppError, ConflictError } from '../errors.js';
import type { Predictor, PredictorModule } from '../trainers/predictor.js';

/** How models of a trainer are loaded (its runtime, src/trainers/runtimes); null: they cannot be served. */
export type PredictorSource = (t: TrainerDef) => PredictorModule | null;

export interface Entry {
  versionId: string;
  model: string;
  owner: string;
  version: number;
  trainer: string;
  state: 'loading' | 'ready' | 'error';
  loadedBytes: number;
  totalBytes: number;
  error: string | null;
  predictor: Predictor | null;
  lastUsed: number;
  loading: Promise<Predictor> | null;
}

export class ModelLoadError extends Error {
  readonly code = 'MODEL_LOAD_FAILED';
}

/**
 * Loaded models, least recently used first out once their artifacts exceed `maxBytes` (the
 * artifact size stands in for memory: a model's in-memory weights are about as large as
 * its files). A load in progress is shared by every request that needs the model.
 */
export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly d: { registry: RegistryService; dir: string; maxBytes: number; predictors: PredictorSource }) {}

  list(): Entry[] {
    return [...this.entries.values()];
  }

  async get(key: { versionId: string; model: string; owner: string; version: number; totalBytes: number }, trainer: TrainerDef): Promise<Predictor> {
    let e = this.entries.get(key.versionId);
    if (e?.state === 'ready' && e.predictor) {
      e.lastUsed = Date.now();
      return e.predictor;
    }
    if (e?.loading) return e.loading;
    if (this.closed) throw new ModelLoadError(`could not load ${key.model} v${key.version}: the server is shutting down`);
    e = { ...key, trainer: trainer.id, state: 'loading', loadedBytes: 0, error: null, predictor: null, lastUsed: Date.now(), loading: null };
    this.entries.set(key.versionId, e);
    const entry = e;
    entry.loading = (async () => {
      const folder = path.join(this.d.dir, key.versionId);
      try {
        await rm(folder, { recursive: true, force: true });
        await this.d.registry.materialize(key.versionId, folder, (n) => (entry.loadedBytes = n));
        const mod = this.d.predictors(trainer);
        if (!mod) throw new ConflictError('PREDICTION_NOT_SUPPORTED', `models of ${trainer.id} cannot be served`);
        const predictor = await mod.loadPredictor(folder);
        if (this.closed) {
          // Loaded while the server was closing: close() is waiting on this load, and ends it here.
          await (predictor.close ? predictor.close() : predictor.dispose());
          throw new Error('the server is shutting down');
        }
        Object.assign(entry, { state: 'ready', predictor, loading: null, loadedBytes: entry.totalBytes });
        await this.evict(key.versionId);
        return predictor;
      } catch (err) {
        Object.assign(entry, { state: 'error', error: (err as Error).message, loading: null });
        // Errors that already speak to the client (e.g. PREDICTION_NOT_SUPPORTED) pass through.
        if (err instanceof AppError) throw err;
        throw new ModelLoadError(`could not load ${key.model} v${key.version}: ${(err as Error).message}`, { cause: err });
      }
    })();
    return entry.loading;
  }

  private async evict(keep: string): Promise<void> {
    const ready = [...this.entries.values()].filter((e) => e.state !== 'loading');
    let total = ready.reduce((s, e) => s + e.totalBytes, 0);
    for (const e of ready.sort((a, b) => a.lastUsed - b.lastUsed)) {
      if (total <= this.d.maxBytes) break;
      if (e.versionId === keep) continue;
      e.predictor?.dispose();
      this.entries.delete(e.versionId);
      total -= e.totalBytes;
      await rm(path.join(this.d.dir, e.versionId), { recursive: true, force: true });
    }
  }

  /**
   * Forgets a predictor that failed (its process exited, it stopped answering), if the cache
   * still holds that one, so the next request loads the version afresh instead of meeting the
   * same dead predictor for as long as it stays popular enough not to be evicted.
   */
  drop(versionId: string, predictor: Predictor): void {
    const e = this.entries.get(versionId);
    if (e?.predictor !== predictor) return;
    this.entries.delete(versionId);
    predictor.dispose();
  }

  /** Closes every predictor, loads still under way included (they are waited for, then closed). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.entries.values()].map((e) => e.loading));
    await Promise.all([...this.entries.values()].map((e) => (e.predictor?.close ? e.predictor.close() : e.predictor?.dispose())));
    this.entries.clear();
  }
}

import { AppError } from '../../errors.js';
import type { Ctx } from './context.js';
import { baseModels, knownModel, modelUri, trainedModels, type TrainedModel } from './views.js';

/**
 * Model loading, mapped onto what Trainyard has: a trained model loads into the serving cache
 * (the latest version, as POST /v1/models/{name}/load does); a base model is "loaded" when its
 * files are on this server, since nothing is ever downloaded. Sources say which.
 */
const STATE: Record<string, string> = { ready: 'loaded', loading: 'loading', error: 'error' };

export async function loadingStatus(c: Ctx) {
  const trained = await trainedModels(c);
  const bases = baseModels(c);
  const cache = c.s.serving.status(c.account.id);
  const models: Record<string, { status: string; progress: number; source: string }> = {};
  for (const b of bases) models[b.id] = { status: b.available ? 'loaded' : 'not_installed', progress: b.available ? 100 : 0, source: `local (${b.path})` };
  for (const m of trained) {
    const latest = m.versions[0];
    if (!latest) continue;
    const e = cache.find((x) => x.model === m.name && x.version === latest.version);
    models[m.name] = {
      status: e ? (STATE[e.state] ?? e.state) : 'not_loaded',
      progress: e ? Math.round(e.progress * 1000) / 10 : 0,
      source: `trainyard registry (${modelUri(m.name, latest.version)})`,
    };
  }
  const all = Object.values(models);
  const loaded = all.filter((m) => m.status === 'loaded').length;
  return {
    loading_in_progress: all.some((m) => m.status === 'loading'),
    loaded_models: loaded,
    total_models: all.length,
    progress: all.length ? Math.round((loaded / all.length) * 1000) / 10 : 100,
    models,
  };
}

/** Starts loading a trained model's latest version; a trainer whose models cannot be served is left as it is. */
async function loadTrained(c: Ctx, m: TrainedModel): Promise<void> {
  try {
    await c.s.serving.load(c.account.id, m.name, { alias: 'latest' });
  } catch (err) {
    if (!(err instanceof AppError && err.code === 'PREDICTION_NOT_SUPPORTED')) throw err;
  }
}

/** Every model the facade knows. */
export async function loadAll(c: Ctx): Promise<string[]> {
  const trained = await trainedModels(c);
  for (const m of trained) await loadTrained(c, m);
  return [...new Set([...baseModels(c).map((b) => b.id), ...trained.map((m) => m.name)])];
}

/** Named models: all are checked first (an unknown one is a 404 and nothing starts). */
export async function loadNamed(c: Ctx, names: string[]): Promise<void> {
  const found = [];
  for (const n of names) {
    const f = await knownModel(c, n);
    if (!f.trained && f.base && !f.base.available)
      throw new AppError('BASE_MODEL_UNAVAILABLE', `base model ${f.base.id} is not installed on this server (nothing is downloaded)`, { status: 503 });
    found.push(f);
  }
  for (const f of found) if (f.trained) await loadTrained(c, f.trained);
}

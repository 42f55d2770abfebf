import { existsSync, statSync } from 'node:fs';
import { CHANNELS, notify } from '../../db/channels.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../db/db.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { BUILTIN_BASE_MODELS, BUILTIN_TRAINERS } from './builtin.js';
import { gpuWhenProblem } from './gpu.js';
import * as q from './queries.js';
import { copyFolderToStore, folderUri, isUri, markerOf, overlaps, storedModelPrefix, storedModelProblem, storePrefixOf } from './stored-models.js';
import { resolveEstimate, type AvailabilityProbe, type BaseModel, type RuntimeProbe, type Trainer, type TrainerDef } from './types.js';

export class CatalogFileError extends Error {
  readonly code = 'CATALOG_FILE_INVALID';
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'CatalogFileError';
  }
}

interface CatalogFile {
  trainers?: Array<Partial<TrainerDef> & { id: string; disabled?: boolean }>;
  base_models?: Array<Partial<BaseModel> & { id: string; disabled?: boolean }>;
}

const PROBING = 'checking whether its runtime is installed';
const NO_PROBE: AvailabilityProbe = async () => 'no runtime probe is configured';

function mergeById<T extends { id: string }>(base: T[], overrides: Array<Partial<T> & { id: string; disabled?: boolean }> | undefined): T[] {
  const out = new Map(base.map((b) => [b.id, b]));
  for (const o of overrides ?? []) {
    const { disabled, ...rest } = o;
    if (disabled) out.delete(o.id);
    else out.set(o.id, { ...(out.get(o.id) ?? ({} as T)), ...(rest as Partial<T>) } as T);
  }
  return [...out.values()];
}

function check(file: string, c: CatalogFile): void {
  for (const [list, required] of [
    [c.trainers, ['id', 'title', 'task', 'dataset', 'hyperparameters', 'pricing', 'runtime', 'resources', 'primary_metric', 'base_models']],
    [c.base_models, ['id', 'name', 'architecture', 'trainers', 'source']],
  ] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new CatalogFileError(file, 'trainers and base_models must be arrays');
    for (const item of list as Array<Record<string, unknown>>) {
      if (!item || typeof item.id !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,99}$/.test(item.id))
        throw new CatalogFileError(file, `every entry needs an id of lower-case letters, digits, ".", "_" or "-": ${JSON.stringify(item?.id)}`);
      // A new entry must be complete; an entry overriding a built-in may set only some fields.
      const known = [...BUILTIN_TRAINERS, ...BUILTIN_BASE_MODELS].some((b) => b.id === item.id);
      const missing = known || item.disabled ? [] : required.filter((k) => item[k] === undefined);
      if (missing.length) throw new CatalogFileError(file, `entry ${item.id} lacks ${missing.join(', ')}`);
      if (list === c.trainers) checkTrainerExtras(file, item);
    }
  }
}

/** default_base_model and estimate, the optional fields nothing else would check before a job needs them. */
function checkTrainerExtras(file: string, item: Record<string, unknown>): void {
  const d = item.default_base_model;
  if (d !== undefined && d !== null && (typeof d !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,99}$/.test(d)))
    throw new CatalogFileError(file, `entry ${String(item.id)}: default_base_model must be a base model id`);
  const e = item.estimate as Record<string, unknown> | null | undefined;
  if (e === undefined || e === null) return;
  const okParam = e.param === undefined || (typeof e.param === 'string' && e.param.length > 0);
  const okSpu = e.seconds_per_unit === undefined || (typeof e.seconds_per_unit === 'number' && e.seconds_per_unit > 0 && Number.isFinite(e.seconds_per_unit));
  if (typeof e !== 'object' || Array.isArray(e) || !okParam || !okSpu)
    throw new CatalogFileError(file, `entry ${String(item.id)}: estimate must be { param?: string, seconds_per_unit?: number > 0 }`);
}

/** Where a base model being registered comes from: a folder on this server (copied into the store) or a URI in the store. */
export type BaseModelOrigin = { path: string } | { uri: string };

export class CatalogService {
  private trainers: Trainer[] = [];
  private fileModels: BaseModel[] = [];
  private dbModels: BaseModel[] = [];
  private probing: Promise<void> = Promise.resolve();
  private generation = 0;
  private unwatch: (() => Promise<void>) | null = null;
  /** Store-backed base models (source a URI): source → null when its folder is complete, else why not. */
  private stored = new Map<string, string | null>();

  constructor(
    private readonly dataDir: string,
    /** `probe` overrides `runtimes.check` (tests); `runtimes` still gets refreshed and closed. */
    private readonly opts: { probe?: AvailabilityProbe; runtimes?: RuntimeProbe; db?: Db; store?: BlobStore; log?: Logger } = {},
  ) {}

  private get probe(): AvailabilityProbe {
    return this.opts.probe ?? this.opts.runtimes?.check ?? NO_PROBE;
  }

  /**
   * Reads DATA_DIR/catalog.json and the registered base models, and starts probing every
   * trainer's runtime. It does not wait for the probes (a Python environment takes seconds to
   * import torch); `ready()` does, and everything that decides on availability awaits it.
   */
  async load(o: { reprobe?: boolean } = {}): Promise<void> {
    const file = path.join(this.dataDir, 'catalog.json');
    let overrides: CatalogFile = {};
    if (existsSync(file)) {
      try {
        overrides = JSON.parse(await readFile(file, 'utf8')) as CatalogFile;
      } catch (err) {
        throw new CatalogFileError(file, `not valid JSON: ${(err as Error).message}`, { cause: err });
      }
      check(file, overrides);
    }
    if (o.reprobe) this.opts.runtimes?.refresh();
    const defs = mergeById(BUILTIN_TRAINERS, overrides.trainers);
    // Checked on the merged entry: an override may change the hyperparameters gpu_when names.
    for (const d of defs.filter((x) => overrides.trainers?.some((o) => o.id === x.id))) {
      const problem = gpuWhenProblem(d);
      if (problem) throw new CatalogFileError(file, `entry ${d.id}: ${problem}`);
    }
    const gen = ++this.generation;
    const previous = new Map(this.trainers.map((t) => [t.id, t]));
    this.trainers = defs.map((d) => ({
      ...d,
      kind: d.kind ?? 'training',
      supports_test_set: d.supports_test_set ?? false,
      default_base_model: d.default_base_model ?? null,
      estimate: resolveEstimate(d),
      available: previous.get(d.id)?.available ?? false,
      unavailable_reason: previous.get(d.id)?.unavailable_reason ?? PROBING,
    }));
    this.probing = Promise.all(
      defs.map(async (d) => {
        const reason = await this.probe(d).catch((err: Error) => `probe failed: ${err.message}`);
        if (gen !== this.generation) return;
        this.trainers = this.trainers.map((t) => (t.id === d.id ? { ...t, available: reason === null, unavailable_reason: reason } : t));
      }),
    ).then(() => undefined);
    this.fileModels = mergeById(BUILTIN_BASE_MODELS, overrides.base_models);
    await this.loadRegistered();
  }

  /** Resolves once every trainer's runtime has been probed. */
  async ready(): Promise<void> {
    let p;
    do {
      p = this.probing;
      await p;
    } while (p !== this.probing);
  }

  async loadRegistered(): Promise<void> {
    if (this.opts.db) this.dbModels = await q.listBaseModels(this.opts.db);
    await this.checkStored();
  }

  /**
   * Lists each store-backed base model's folder, so `available` (read synchronously) says
   * whether its objects are there. Runs on load and on every catalog NOTIFY.
   */
  private async checkStored(): Promise<void> {
    const store = this.opts.store;
    const next = new Map<string, string | null>();
    for (const m of this.baseModels.filter((x) => isUri(x.source))) {
      const prefix = store ? storePrefixOf(store, m.source) : null;
      if (!store || !prefix) next.set(m.source, `${m.source} is not in the configured store`);
      else next.set(m.source, await storedModelProblem(store, prefix, m.architecture).catch((err: Error) => `listing ${m.source} failed: ${err.message}`));
    }
    this.stored = next;
  }

  /** Every API process and worker reloads registered base models when one is added or removed. */
  async watch(): Promise<void> {
    if (!this.opts.db || this.unwatch) return;
    this.unwatch = await this.opts.db.listen(CHANNELS.catalog, () => {
      this.loadRegistered().catch(() => {});
    });
  }

  async close(): Promise<void> {
    this.opts.runtimes?.close();
    await this.unwatch?.().catch(() => {});
    this.unwatch = null;
  }

  listTrainers(): Trainer[] {
    return this.trainers;
  }

  /** The most images any trainer takes in one dataset (0 when none says): what one URL import may fetch. */
  largestImageSet(): number {
    return Math.max(0, ...this.trainers.map((t) => t.dataset.max_images ?? 0));
  }

  trainer(id: string): Trainer {
    const t = this.trainers.find((x) => x.id === id);
    if (!t) throw new NotFoundError('trainer', id);
    return t;
  }

  private get baseModels(): BaseModel[] {
    const ids = new Set(this.fileModels.map((m) => m.id));
    return [...this.fileModels, ...this.dbModels.filter((m) => !ids.has(m.id))];
  }

  /**
   * `local_path` is where a local folder's files are expected (on this machine: a worker
   * resolves it against its own DATA_DIR); a store-backed model (source a URI) has none.
   * `available` says whether the files are there, or its objects are in the store.
   */
  private describe(m: BaseModel) {
    const uri = isUri(m.source);
    const local = uri ? null : path.resolve(this.dataDir, m.source);
    const available = uri ? this.stored.get(m.source) === null : existsSync(local!);
    return {
      ...m,
      model_type: m.model_type ?? null,
      base_architecture: m.base_architecture ?? null,
      registered: m.registered ?? false,
      local_path: local,
      available,
    };
  }

  listBaseModels(filter: { trainer?: string } = {}) {
    return this.baseModels.filter((m) => !filter.trainer || m.trainers.includes(filter.trainer)).map((m) => this.describe(m));
  }

  baseModel(id: string) {
    const m = this.baseModels.find((x) => x.id === id);
    if (!m) throw new NotFoundError('base model', id);
    return this.describe(m);
  }

  /**
   * Registers a base model (admins): a folder on this server, copied into the store under
   * models/{id}/, or a folder already in the store named by its URI. Either way the row's
   * source is the store URI, and workers fetch it from there into their own cache.
   */
  async registerBaseModel(m: Omit<BaseModel, 'source'>, from: BaseModelOrigin, createdBy: string) {
    const { db, store } = this.opts;
    if (!db || !store) throw new ConflictError('CATALOG_READ_ONLY', 'this catalog has no database and store to register base models in');
    for (const t of m.trainers) {
      if (!this.trainers.some((x) => x.id === t)) throw new ValidationError('UNKNOWN_TRAINER', `no trainer "${t}"; GET /v1/trainers lists them`);
    }
    const marker = markerOf(m.architecture);
    let local: string | null = null;
    let prefix: string;
    if ('uri' in from) {
      const p = storePrefixOf(store, from.uri);
      if (!p)
        throw new ValidationError('BASE_MODEL_URI_UNSUPPORTED', `${from.uri} is not a folder in the configured store (${store.uri('models')}/…)`, {
          uri: from.uri,
        });
      prefix = p;
      const problem = await storedModelProblem(store, prefix, m.architecture);
      if (problem)
        throw new ValidationError('BASE_MODEL_PATH_INVALID', `${problem}: is it a saved ${m.architecture} model (save_pretrained)?`, {
          uri: from.uri,
          expected: marker,
        });
    } else {
      local = this.checkLocalFolder(from.path, m.architecture);
      prefix = storedModelPrefix(m.id);
    }
    const source = folderUri(store, prefix);
    if (this.baseModels.some((x) => x.id === m.id)) throw new ConflictError('BASE_MODEL_EXISTS', `base model "${m.id}" already exists`);
    // A copy rewrites models/{id}/: never under another model's folder, nor one inside or around it.
    const overlap = local && this.baseModels.find((x) => overlaps(store, x.source, prefix));
    if (overlap) throw new ConflictError('BASE_MODEL_EXISTS', `base model "${overlap.id}" uses ${overlap.source}, which overlaps ${source}`);
    // The row first: it claims the id, so two registrations never copy into one folder at once.
    // Until the copy ends (marker last) the model reads as unavailable.
    const row = await q.insertBaseModel(db, { ...m, source }, createdBy);
    if (!row) throw new ConflictError('BASE_MODEL_EXISTS', `base model "${m.id}" already exists`);
    if (local) {
      try {
        await copyFolderToStore(store, local, prefix, m.architecture, this.opts.log?.child({ base_model: m.id }));
      } catch (err) {
        await q.deleteBaseModel(db, m.id);
        throw err;
      }
    }
    await notify(db, 'catalog', m.id);
    await this.loadRegistered();
    return this.describe(row);
  }

  /** The folder on this server, resolved against DATA_DIR, once it looks like its architecture. */
  private checkLocalFolder(p: string, architecture: string): string {
    const local = path.resolve(this.dataDir, p);
    let isDir = false;
    try {
      isDir = statSync(local).isDirectory();
    } catch {
      /* reported below */
    }
    if (!isDir) throw new ValidationError('BASE_MODEL_PATH_MISSING', `${local} is not a folder on this server`, { path: local });
    const marker = markerOf(architecture);
    if (!existsSync(path.join(local, marker)))
      throw new ValidationError('BASE_MODEL_PATH_INVALID', `${local} has no ${marker}: is it a saved ${architecture} model (save_pretrained)?`, {
        path: local,
        expected: marker,
      });
    return local;
  }

  async unregisterBaseModel(id: string): Promise<void> {
    const m = this.baseModel(id);
    if (!m.registered || !this.opts.db)
      throw new ConflictError('BASE_MODEL_BUILTIN', `base model "${id}" comes from the built-in list or catalog.json; disable it there`);
    await q.deleteBaseModel(this.opts.db, id);
    await notify(this.opts.db, 'catalog', id);
    await this.loadRegistered();
  }
}

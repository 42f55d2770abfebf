import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError } from '../../errors.js';
import { BUILTIN_BASE_MODELS, BUILTIN_TRAINERS } from './builtin.js';
import type { AvailabilityProbe, BaseModel, Trainer, TrainerDef } from './types.js';

export class CatalogFileError extends Error {
  readonly code = 'CATALOG_FILE_INVALID';
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'CatalogFileError';
  }
}

interface CatalogFile { trainers?: Array<Partial<TrainerDef> & { id: string; disabled?: boolean }>; base_models?: Array<Partial<BaseModel> & { id: string; disabled?: boolean }> }

const TRAINERS_DIR = fileURLToPath(new URL('../../trainers/', import.meta.url));

/**
 * Default probe: a built-in trainer is available when its program is part of this build; a
 * Python pack when its virtual environment exists (issue #5 replaces that with an import probe).
 */
export function defaultProbe(dataDir: string): AvailabilityProbe {
  return async (t) => {
    if (t.runtime.type === 'command') {
      const exe = t.runtime.command?.[0];
      if (!exe) return 'runtime.command is empty';
      return path.isAbsolute(exe) && !existsSync(exe) ? `${exe} does not exist` : null;
    }
    if (t.runtime.type === 'builtin') {
      const dir = path.join(TRAINERS_DIR, 'builtin', t.runtime.entry);
      return existsSync(path.join(dir, 'main.js')) || existsSync(path.join(dir, 'main.ts')) ? null : 'this trainer is not part of this build yet';
    }
    return existsSync(path.join(dataDir, 'python', '.venv', 'bin', 'python')) ? null : 'the Python trainer environment is not set up (run `trainyard setup python`)';
  };
}

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
      if (!item || typeof item.id !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,99}$/.test(item.id)) throw new CatalogFileError(file, `every entry needs an id of lower-case letters, digits, ".", "_" or "-": ${JSON.stringify(item?.id)}`);
      // A new entry must be complete; an entry overriding a built-in may set only some fields.
      const known = [...BUILTIN_TRAINERS, ...BUILTIN_BASE_MODELS].some((b) => b.id === item.id);
      const missing = known || item.disabled ? [] : required.filter((k) => item[k] === undefined);
      if (missing.length) throw new CatalogFileError(file, `entry ${item.id} lacks ${missing.join(', ')}`);
    }
  }
}

export class CatalogService {
  private trainers: Trainer[] = [];
  private baseModels: BaseModel[] = [];

  constructor(
    private readonly dataDir: string,
    private readonly probe: AvailabilityProbe = defaultProbe(dataDir),
  ) {}

  /** Reads DATA_DIR/catalog.json (if any) and probes every trainer's runtime once. */
  async load(): Promise<void> {
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
    const defs = mergeById(BUILTIN_TRAINERS, overrides.trainers);
    this.trainers = await Promise.all(
      defs.map(async (d) => {
        const reason = await this.probe(d);
        return { ...d, available: reason === null, unavailable_reason: reason };
      }),
    );
    this.baseModels = mergeById(BUILTIN_BASE_MODELS, overrides.base_models);
  }

  listTrainers(): Trainer[] {
    return this.trainers;
  }

  trainer(id: string): Trainer {
    const t = this.trainers.find((x) => x.id === id);
    if (!t) throw new NotFoundError('trainer', id);
    return t;
  }

  /** `local_path` is where the files are expected; `available` says whether they are there. */
  private describe(m: BaseModel) {
    const isUri = /^[a-z][a-z0-9+.-]*:\/\//i.test(m.source);
    const local = isUri ? null : path.resolve(this.dataDir, m.source);
    return { ...m, local_path: local, available: local !== null && existsSync(local) };
  }

  listBaseModels(filter: { trainer?: string } = {}) {
    return this.baseModels.filter((m) => !filter.trainer || m.trainers.includes(filter.trainer)).map((m) => this.describe(m));
  }

  baseModel(id: string) {
    const m = this.baseModels.find((x) => x.id === id);
    if (!m) throw new NotFoundError('base model', id);
    return this.describe(m);
  }
}

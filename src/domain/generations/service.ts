import type { Db } from '../../db/db.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { BlobStore, SignedUrl } from '../../storage/blob-store.js';
import type { CatalogService } from '../catalog/service.js';
import type { Trainer } from '../catalog/types.js';
import { validateHyperparameters } from '../jobs/hyperparameters.js';
import { priceJob } from '../jobs/pricing.js';
import { requestHash, type JobsService } from '../jobs/service.js';
import type { FromModel, JobRow } from '../jobs/types.js';
import type { RegistryService } from '../registry/service.js';
import type { CreateGenerationInput } from './schema.js';

/** The catalog entry that runs generations; a deployment may point it at another pack. */
export const GENERATION_TRAINER = 'diffusion-generate';
/** The trainer whose models are LoRAs a generation can load. */
const LORA_TRAINER = 'lora-diffusion';

interface Outputs {
  outputs?: Array<{ name: string; format: string; bytes: number; sha256: string; storage_key: string }>;
  details?: Record<string, unknown>;
  metrics?: Record<string, number>;
}

function imageOf(j: JobRow) {
  const r = (j.result ?? {}) as Outputs;
  return r.outputs?.find((o) => o.name === 'image.png') ?? r.outputs?.[0] ?? null;
}

export type Generation = ReturnType<GenerationsService['shape']>;

export class GenerationsService {
  constructor(
    private readonly d: { db: Db; store: BlobStore; catalog: CatalogService; registry: RegistryService; jobs: JobsService; signedUrlTtlSeconds: number },
  ) {}

  private async trainer(): Promise<Trainer> {
    await this.d.catalog.ready();
    let t: Trainer;
    try {
      t = this.d.catalog.trainer(GENERATION_TRAINER);
    } catch {
      throw new ConflictError('TRAINER_UNAVAILABLE', "image generation is not part of this deployment's catalog");
    }
    if (!t.available)
      throw new ConflictError('TRAINER_UNAVAILABLE', `image generation is not available: ${t.unavailable_reason}`, { reason: t.unavailable_reason });
    return t;
  }

  /**
   * A generation is a job of kind `inference` on the same queue as training, so GPUs are
   * shared by the same priority and fairness rules; it is priced, held and captured like one.
   * The LoRA's version is staged as the job's init_from, as retraining does.
   */
  async create(ownerId: string, input: CreateGenerationInput, idempotencyKey?: string): Promise<{ generation: Generation; replayed: boolean }> {
    const hash = requestHash({ generation: input });
    const r = await this.d.jobs.idempotent(
      ownerId,
      idempotencyKey,
      hash,
      () => this.insert(ownerId, input, { idempotencyKey, requestHash: hash }),
      (row) => this.shape(row, null),
    );
    return { generation: r.value, replayed: r.replayed };
  }

  private async insert(ownerId: string, input: CreateGenerationInput, o: { idempotencyKey: string | undefined; requestHash: string }): Promise<JobRow | null> {
    const trainer = await this.trainer();
    if (input.model === undefined && (input.version !== undefined || input.alias !== undefined))
      throw new ValidationError('VERSION_WITHOUT_MODEL', 'version and alias need a model');
    if (input.version !== undefined && input.alias !== undefined) throw new ValidationError('VERSION_OR_ALIAS', 'give version or alias, not both');
    let fromModel: FromModel | null = null;
    let loraModelId: string | null = null;
    let baseModel = input.base_model;
    if (input.model !== undefined) {
      const m = await this.d.registry.resolve(ownerId, input.model);
      if (m.trainer !== LORA_TRAINER)
        throw new ValidationError('MODEL_NOT_A_LORA', `model "${input.model}" was trained with ${m.trainer}; generations load ${LORA_TRAINER} models`);
      const v = await this.d.registry.versionRow(m, String(input.version ?? input.alias ?? 'latest'));
      if (baseModel && v.base_model && baseModel !== v.base_model) {
        throw new ValidationError('BASE_MODEL_MISMATCH', `model "${input.model}" v${v.version} was trained on ${v.base_model}, not ${baseModel}`, {
          trained_on: v.base_model,
        });
      }
      baseModel ??= v.base_model ?? undefined;
      fromModel = { name: input.model, version: v.version, version_id: v.id };
      loraModelId = m.id;
    }
    if (!baseModel) throw new ValidationError('BASE_MODEL_REQUIRED', `give a base_model; GET /v1/base-models?trainer=${GENERATION_TRAINER}`);
    const bm = this.d.catalog
      .listBaseModels()
      .find((x) => x.id === baseModel && (x.trainers.includes(GENERATION_TRAINER) || x.trainers.includes(LORA_TRAINER)));
    if (!bm)
      throw new ValidationError('BASE_MODEL_NOT_ALLOWED', `base model "${baseModel}" is not an image model; GET /v1/base-models?trainer=${GENERATION_TRAINER}`);
    const params = Object.fromEntries(
      (['prompt', 'negative_prompt', 'seed', 'steps', 'guidance_scale', 'width', 'height'] as const)
        .filter((k) => input[k] !== undefined)
        .map((k) => [k, input[k]]),
    );
    const hyperparameters = validateHyperparameters(trainer.hyperparameters, params);
    const cost = priceJob(trainer.pricing, hyperparameters, 0);
    const resolvedBase = baseModel;
    return this.d.db.transaction(async (tx) => {
      const row = await this.d.jobs.insertInference(
        tx,
        ownerId,
        { trainer, hyperparameters, baseModel: resolvedBase, fromModel, cost, ...(input.priority !== undefined ? { priority: input.priority } : {}) },
        o,
      );
      // Generations count toward the LoRA's popularity, like predictions do for classifiers.
      if (row && loraModelId) await this.d.registry.countUse(loraModelId, tx);
      return row;
    });
  }

  private async row(ownerId: string, id: string): Promise<JobRow> {
    const row = await this.d.jobs.row(ownerId, id).catch((err: unknown) => {
      if (err instanceof NotFoundError) return null;
      throw err;
    });
    if (!row || row.kind !== 'inference') throw new NotFoundError('generation', id);
    return row;
  }

  async get(ownerId: string, id: string, baseUrl: string) {
    return this.signedShape(await this.row(ownerId, id), baseUrl);
  }

  async list(ownerId: string, limit: number, cursor: string | undefined, baseUrl: string) {
    const page = await this.d.jobs.listAs(ownerId, limit, cursor, { kind: 'inference', trainer: GENERATION_TRAINER }, (r) => r);
    return { ...page, data: await Promise.all(page.data.map((r) => this.signedShape(r, baseUrl))) };
  }

  async cancel(ownerId: string, id: string) {
    await this.row(ownerId, id);
    await this.d.jobs.cancel(ownerId, id);
    return this.shape(await this.row(ownerId, id), null);
  }

  /** The generation with its image as a signed URL once it exists (signing is async: S3 presigns). */
  private async signedShape(j: JobRow, baseUrl: string) {
    const image = imageOf(j);
    const signed = image ? await this.d.store.signedUrl(image.storage_key, { method: 'GET', expiresInSeconds: this.d.signedUrlTtlSeconds, baseUrl }) : null;
    return this.shape(j, signed);
  }

  /** The generation as clients see it; `signed` is its image's URL when the caller gets one. */
  private shape(j: JobRow, signed: SignedUrl | null) {
    const r = (j.result ?? {}) as Outputs;
    const image = imageOf(j);
    const hp = j.hyperparameters as Record<string, unknown>;
    const usedSeed = r.details?.seed;
    return {
      id: j.id,
      status: j.status,
      model: j.from_model ? { name: j.from_model.name, version: j.from_model.version } : null,
      base_model: j.base_model,
      prompt: hp.prompt as string,
      negative_prompt: (hp.negative_prompt as string | undefined) ?? null,
      seed: typeof usedSeed === 'number' ? usedSeed : typeof hp.seed === 'number' ? hp.seed : null,
      steps: hp.steps as number,
      guidance_scale: hp.guidance_scale as number,
      width: (r.details?.width as number | undefined) ?? (hp.width as number | undefined) ?? null,
      height: (r.details?.height as number | undefined) ?? (hp.height as number | undefined) ?? null,
      progress: { fraction: j.progress, step: j.step, total_steps: j.total_steps },
      cost: j.cost,
      image: image
        ? { format: image.format, bytes: image.bytes, sha256: image.sha256, url: signed?.url ?? null, expires_at: signed?.expiresAt.toISOString() ?? null }
        : null,
      image_url: signed?.url ?? null,
      inference_time_s: r.metrics?.inference_time_s ?? null,
      error: j.error,
      created_at: j.created_at.toISOString(),
      started_at: j.started_at?.toISOString() ?? null,
      finished_at: j.finished_at?.toISOString() ?? null,
    };
  }
}

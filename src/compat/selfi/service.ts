import { AppError, NotFoundError, ValidationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { Services } from '../../services.js';
import { isFinal } from '../../domain/jobs/states.js';
import * as q from './queries.js';
import type { GenerateInput, PublicQueryInput, StartInput, TransactionsQueryInput } from './schemas.js';
import type { SelfiSettings } from './settings.js';
import { loraStatus, progressOf, trainingStatus } from './status.js';

const TRAINER = 'lora-diffusion';
const GENERATOR = 'diffusion-generate';
/** URLs handed out by POST /upload end in this: the file id is taken back without a fetch. */
const UPLOAD_PATH = /\/uploads\/(file_[a-z0-9]{20})$/;
const TX_PURPOSE = { PURCHASE: 'purchase', GENERATION: 'generation', TRAINING: 'training', REFUND: 'refund' } as const;
const TX_TYPE: Record<string, 'PURCHASE' | 'GENERATION' | 'TRAINING' | 'REFUND'> = {
  purchase: 'PURCHASE',
  generation: 'GENERATION',
  training: 'TRAINING',
  refund: 'REFUND',
};
const HOLD_STATUS = { held: 'PENDING', captured: 'COMPLETED', released: 'REFUNDED' } as const;
/** How often POST /generate looks at its generation while it waits. */
const GENERATE_POLL_MS = 200;

export const selfiError = (code: string, message: string, status: number, details?: unknown) => new AppError(code, message, { status, details });
const pages = (total: number, limit: number) => Math.ceil(total / limit);

/** The document's operations over Trainyard's services; every call is for one user (the bot's principal). */
export class SelfiService {
  constructor(
    private readonly s: Services,
    private readonly settings: SelfiSettings,
  ) {}

  /** A signed URL of a stored image (samples), at the host the caller reached. */
  private async signed(key: string | null, base: string): Promise<string | null> {
    if (!key) return null;
    return (await this.s.store.signedUrl(key, { method: 'GET', expiresInSeconds: this.s.config.uploads.signedUrlTtlSeconds, baseUrl: base })).url;
  }

  async mine(owner: string, base: string) {
    const rows = await q.mine(this.s.db, owner);
    return {
      loras: await Promise.all(
        rows.map(async (r) => ({
          id: r.id,
          name: r.name,
          triggerWord: r.trigger_word,
          status: loraStatus(r.job_status),
          previewImageUrl: await this.signed(r.preview_key, base),
          isPublic: r.is_public,
          createdAt: r.created_at.toISOString(),
        })),
      ),
    };
  }

  async publicList(query: PublicQueryInput, base: string) {
    const { rows, total } = await q.publicPage(this.s.db, { offset: (query.page - 1) * query.limit, limit: query.limit, sort: query.sort });
    return {
      loras: await Promise.all(
        rows.map(async (r) => ({
          id: r.id,
          name: r.name,
          triggerWord: r.trigger_word,
          previewImageUrl: await this.signed(r.preview_key, base),
          isPublic: r.is_public,
          createdAt: r.created_at.toISOString(),
          user: { username: r.username },
        })),
      ),
      pagination: { total, pages: pages(total, query.limit), current: query.page },
    };
  }

  async status(owner: string, modelId: string, base: string) {
    const r = await q.loraOf(this.s.db, owner, modelId);
    if (!r) throw new NotFoundError('model', modelId);
    const preview = await this.signed(r.preview_key, base);
    return {
      status: trainingStatus(r.job_status),
      progress: progressOf(r),
      ...(r.error?.message ? { error: r.error.message } : {}),
      ...(preview ? { previewImageUrl: preview } : {}),
    };
  }

  /**
   * The image files of `imageUrls`: this facade's uploads by id, any other URL imported
   * (SSRF-guarded). `imported` are the files made here, which a start that fails removes.
   */
  private async images(owner: string, urls: string[]): Promise<{ fileIds: string[]; imported: string[] }> {
    const ids: Array<string | null> = urls.map((u) => {
      let path: string;
      try {
        path = new URL(u).pathname;
      } catch {
        throw new ValidationError('INVALID_IMAGE_URL', `not a URL: ${u.slice(0, 200)}`);
      }
      return UPLOAD_PATH.exec(path)?.[1] ?? null;
    });
    const uploaded = ids.filter((x): x is string => x !== null);
    const ready = new Set((await this.s.files.readyFiles(owner, uploaded)).map((f) => f.id));
    const missing = uploaded.filter((id) => !ready.has(id));
    if (missing.length) throw new ValidationError('UPLOAD_NOT_FOUND', `not an upload of yours (POST /upload): ${missing.join(', ')}`, { files: missing });
    const external = urls.filter((_, i) => ids[i] === null);
    const imported = external.length ? await this.s.files.importUrls(owner, external) : [];
    const made = imported.flatMap((r) => (r.status === 'imported' ? [r.file.id] : []));
    const failed = imported.filter((r) => r.status === 'failed');
    if (failed.length) {
      await this.removeFiles(owner, made);
      throw new ValidationError('IMAGE_IMPORT_FAILED', `${failed.length} image URL(s) could not be fetched`, { failed });
    }
    let next = 0;
    return { fileIds: ids.map((id) => id ?? (imported[next++] as { file: { id: string } }).file.id), imported: made };
  }

  private async removeFiles(owner: string, ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.s.files.delete(owner, id).catch(() => {})));
  }

  /**
   * Starts a training: the images (imported when they are URLs of elsewhere), a dataset of them,
   * the LoRA's record and the job. A start refused on the way (too few stars, unusable images)
   * removes what it made, so a user retrying leaves no trail of files and datasets.
   */
  async start(owner: string, body: StartInput) {
    const { fileIds, imported } = await this.images(owner, body.imageUrls);
    let datasetId: string | null = null;
    try {
      return await this.startWith(owner, body, fileIds, (id) => (datasetId = id));
    } catch (err) {
      if (datasetId) await this.s.datasets.delete(owner, datasetId).catch(() => {});
      await this.removeFiles(owner, imported);
      throw err;
    }
  }

  private async startWith(owner: string, body: StartInput, fileIds: string[], made: (datasetId: string) => void) {
    const id = newId('lora');
    const ds = await this.s.datasets.create(
      owner,
      { name: `selfi ${id}`, kind: 'image-set', file_ids: fileIds, description: `selfi: ${body.name}` },
      { inline: true },
    );
    made(ds.id);
    if (ds.status !== 'ready') {
      const errs = ((ds.errors ?? []) as Array<{ message?: string }>).slice(0, 10);
      throw new ValidationError('INVALID_IMAGES', `the images are not usable: ${errs[0]?.message ?? ds.status}`, { errors: errs });
    }
    const trainer = this.s.catalog.trainer(TRAINER);
    const defaults = (trainer.hyperparameters.properties ?? {}) as Record<string, { default?: unknown }>;
    const hp: Record<string, unknown> = {
      ...this.settings.trainHyperparameters,
      trigger_word: body.triggerWord,
      instance_prompt: body.instancePrompt,
      ...(body.classPrompt !== undefined ? { class_prompt: body.classPrompt } : {}),
      ...(body.steps !== undefined ? { steps: body.steps } : {}),
      ...(body.learningRate !== undefined ? { learning_rate: body.learningRate } : {}),
    };
    const steps = Number(hp.steps ?? defaults.steps?.default ?? 600);
    // Samples are what the previews are: a few per run, the last at the final step.
    if (this.settings.samples > 0 && hp.sample_every === undefined) hp.sample_every = Math.max(1, Math.ceil(steps / this.settings.samples));
    const modelName = `selfi-${id.slice(5).toLowerCase()}`;
    await q.insertLora(this.s.db, {
      id,
      owner_id: owner,
      name: body.name,
      trigger_word: body.triggerWord,
      model_name: modelName,
      is_public: body.isPublic ?? this.settings.publicByDefault,
    });
    try {
      const { job } = await this.s.jobs.create(owner, {
        trainer: TRAINER,
        dataset_id: ds.id,
        ...(this.settings.baseModel ? { base_model: this.settings.baseModel } : {}),
        hyperparameters: hp,
        output: { model_name: modelName },
        metadata: { compat: 'selfi', lora_id: id, name: body.name },
      });
      await q.attachJob(this.s.db, id, job.id);
      const bal = await this.s.credits.balance(owner);
      return { modelId: id, starsDeducted: job.cost, remainingStars: bal.balance };
    } catch (err) {
      await q.discard(this.s.db, id);
      throw err;
    }
  }

  async generate(owner: string, body: GenerateInput, base: string) {
    const bm = this.s.catalog.listBaseModels().find((m) => m.id === body.baseModelId && m.trainers.includes(GENERATOR));
    if (!bm) throw new NotFoundError('base model', body.baseModelId);
    let model: string | undefined;
    if (body.loraId !== undefined) {
      const lora = await q.loraOf(this.s.db, owner, body.loraId);
      if (!lora) throw new NotFoundError('LoRA', body.loraId);
      if (lora.job_status !== 'succeeded') throw new ValidationError('LORA_NOT_READY', `LoRA ${body.loraId} is ${loraStatus(lora.job_status)}, not COMPLETED`);
      model = lora.model_name;
    }
    const { generation } = await this.s.generations.create(owner, {
      ...this.settings.generateHyperparameters,
      prompt: body.prompt,
      base_model: body.baseModelId,
      ...(body.negativePrompt !== undefined ? { negative_prompt: body.negativePrompt } : {}),
      ...(body.seed !== undefined ? { seed: body.seed } : {}),
      ...(model !== undefined ? { model } : {}),
    } as never);
    const deadline = Date.now() + this.settings.generateWaitMs;
    let g = generation;
    while (!isFinal(g.status)) {
      if (Date.now() >= deadline) {
        // The document's call is synchronous: a generation nobody will receive is cancelled, and its stars come back.
        await this.s.generations.cancel(owner, g.id).catch(() => {});
        throw selfiError(
          'generation_timeout',
          `the image was not ready within ${this.settings.generateWaitMs / 1000} s; it was cancelled and its stars refunded`,
          504,
          {
            id: g.id,
          },
        );
      }
      await new Promise((r) => setTimeout(r, GENERATE_POLL_MS));
      g = await this.s.generations.get(owner, g.id, base);
    }
    if (g.status !== 'succeeded' || !g.image_url)
      throw selfiError('generation_failed', `image generation ${g.status}: ${g.error?.message ?? 'no image'}`, 500, { id: g.id });
    return { id: g.id, imageUrl: g.image_url, starsUsed: g.cost, seed: g.seed ?? 0 };
  }

  async balance(owner: string) {
    const b = await this.s.credits.balance(owner);
    return { balance: b.balance, totalSpent: b.total_spent, totalBought: b.total_bought };
  }

  async transactions(owner: string, query: TransactionsQueryInput) {
    const purpose = query.type ? TX_PURPOSE[query.type] : null;
    const { rows, total } = await q.entries(this.s.db, owner, { offset: (query.page - 1) * query.limit, limit: query.limit, purpose });
    return {
      transactions: rows.map((r) => ({
        id: String(r.id),
        amount: Number(r.amount),
        type: TX_TYPE[r.purpose] ?? 'PURCHASE',
        status: r.type === 'hold' ? HOLD_STATUS[(r.hold_status ?? 'held') as keyof typeof HOLD_STATUS] : ('COMPLETED' as const),
        createdAt: r.created_at.toISOString(),
      })),
      pagination: { total, pages: pages(total, query.limit), current: query.page },
    };
  }
}

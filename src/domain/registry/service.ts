import type { Db, Queryable } from '../../db/db.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import { newId } from '../../ids.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { isVersionNumber } from '../schema-kit.js';
import { materializeVersion } from './materialize.js';
import { isBetter, resolveGoal, type MetricGoal } from './metric.js';
import * as q from './queries.js';
import { isModelFile } from './run-log.js';
import type { ListModelsInput, UpdateModelInput } from './schema.js';

export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const ALIAS = /^[a-z][a-z0-9_-]{0,49}$/;
const AUTO_ALIASES = new Set(['latest', 'best']);

export interface NewArtifact {
  name: string;
  format: string;
  storage_key: string;
  bytes: number;
  sha256: string;
}

export interface RegisterInput {
  ownerId: string;
  modelName: string;
  description: string | null;
  triggerWord: string | null;
  trainer: string;
  primaryMetric: { name: string; goal: 'maximize' | 'minimize' };
  jobId: string;
  datasetId: string | null;
  baseModel: string | null;
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, number>;
  parentVersionId: string | null;
  artifacts: NewArtifact[];
}

export class RegistryService {
  constructor(
    private readonly db: Db,
    private readonly store: BlobStore,
    private readonly signedUrlTtlSeconds: number,
  ) {}

  /**
   * Registers a new version in the caller's transaction (the worker's fenced finish). The
   * model row is locked so concurrent successes for one model get consecutive numbers.
   * `latest` always moves; `best` moves when the primary metric improves.
   */
  async register(tx: Queryable, r: RegisterInput): Promise<q.VersionRow> {
    await q.insertModelIfAbsent(tx, {
      id: newId('mdl'),
      owner_id: r.ownerId,
      name: r.modelName,
      description: r.description,
      trigger_word: r.triggerWord,
      trainer: r.trainer,
      primary_metric: r.primaryMetric.name,
      metric_goal: r.primaryMetric.goal,
    });
    const model = (await q.modelByName(tx, r.ownerId, r.modelName, true))!;
    const number = await q.nextVersionNumber(tx, model.id);
    const v = await q.insertVersion(tx, {
      id: newId('mv'),
      model_id: model.id,
      version: number,
      job_id: r.jobId,
      dataset_id: r.datasetId,
      base_model: r.baseModel,
      hyperparameters: r.hyperparameters,
      metrics: r.metrics,
      parent_version_id: r.parentVersionId,
    });
    for (const a of r.artifacts) await q.insertArtifact(tx, { version_id: v.id, ...a });
    await q.setAlias(tx, model.id, 'latest', v.id, null);
    const metric = model.primary_metric ?? r.primaryMetric.name;
    const current = (await q.aliases(tx, model.id)).find((a) => a.alias === 'best');
    const currentMetrics = current ? (await q.versionById(tx, current.version_id))?.metrics : undefined;
    if (!current || isBetter(model.metric_goal, r.metrics[metric], currentMetrics?.[metric])) await q.setAlias(tx, model.id, 'best', v.id, null);
    return v;
  }

  /** A model was used (a prediction, a generation): what `sort=popular` ranks by. */
  async countUse(modelId: string, db: Queryable = this.db): Promise<void> {
    await q.bumpPopularity(db, modelId);
  }

  /** Own model by name, or someone's public model as `owner/name`. */
  async resolve(callerId: string, ref: string, forWrite = false): Promise<q.ModelRow> {
    const slash = ref.indexOf('/');
    const m =
      slash < 0 ? await q.modelByName(this.db, callerId, ref) : forWrite ? null : await q.publicModel(this.db, ref.slice(0, slash), ref.slice(slash + 1));
    if (!m || (forWrite && m.owner_id !== callerId)) throw new NotFoundError('model', ref);
    return m;
  }

  async describe(m: q.ModelRow) {
    const al = await q.aliases(this.db, m.id);
    const vs = await q.versions(this.db, m.id);
    return {
      name: m.name,
      visibility: m.visibility,
      description: m.description,
      tags: m.tags,
      trigger_word: m.trigger_word,
      trainer: m.trainer,
      primary_metric: m.primary_metric,
      metric_goal: m.metric_goal,
      popularity: m.popularity,
      version_count: vs.length,
      aliases: Object.fromEntries(al.map((a) => [a.alias, a.version])),
      latest_version: vs[0] ? this.versionShape(vs[0], []) : null,
      created_at: m.created_at.toISOString(),
      updated_at: m.updated_at.toISOString(),
    };
  }

  versionShape(v: q.VersionRow, arts: q.ArtifactRow[]) {
    return {
      version: v.version,
      job_id: v.job_id,
      dataset_id: v.dataset_id,
      base_model: v.base_model,
      hyperparameters: v.hyperparameters,
      metrics: v.metrics,
      parent_version_id: v.parent_version_id,
      integrations: v.integrations ?? {},
      artifacts: arts.filter((a) => a.version_id === v.id).map((a) => ({ name: a.name, format: a.format, bytes: a.bytes, sha256: a.sha256 })),
      created_at: v.created_at.toISOString(),
    };
  }

  async list(callerId: string, f: ListModelsInput) {
    const rows = await q.listModels(this.db, {
      ownerId: f.visibility === 'public' ? null : callerId,
      publicOnly: f.visibility === 'public',
      sort: f.sort,
      limit: f.limit,
      offset: (f.page - 1) * f.limit,
    });
    const more = rows.length > f.limit;
    const data = await Promise.all(rows.slice(0, f.limit).map(async (m) => ({ owner: m.owner_username, ...(await this.describe(m)) })));
    return { data, page: f.page, has_more: more };
  }

  async update(callerId: string, name: string, patch: UpdateModelInput) {
    const m = await this.resolve(callerId, name, true);
    const { primary_metric, metric_goal, ...rest } = patch;
    if (primary_metric === undefined && metric_goal === undefined) return this.describe(await q.updateModel(this.db, m.id, rest));
    const metric = primary_metric ?? m.primary_metric;
    if (!metric) throw new ValidationError('METRIC_GOAL_WITHOUT_METRIC', `model "${name}" has no primary_metric; set primary_metric with metric_goal`);
    // The goal is given or inferred (a goal alone applies to the current metric).
    const goal = resolveGoal(metric, metric_goal, 'metric_goal');
    const updated = await this.db.transaction(async (tx) => {
      const locked = (await q.modelByName(tx, m.owner_id, m.name, true))!;
      if (Object.keys(rest).length) await q.updateModel(tx, locked.id, rest);
      const row = await q.setPrimaryMetric(tx, locked.id, metric, goal);
      await this.rechooseBest(tx, row, callerId);
      return row;
    });
    return this.describe(updated);
  }

  /**
   * Points `best` at the version that is best on the model's metric now (the earliest of equals,
   * as registration keeps the incumbent on a tie). Versions without the metric are skipped;
   * with none that has it, `best` stays where it is. The move is recorded in the alias history.
   */
  private async rechooseBest(tx: Queryable, m: q.ModelRow, changedBy: string): Promise<void> {
    const metric = m.primary_metric!;
    let winner: q.VersionRow | null = null;
    for (const v of (await q.versions(tx, m.id)).reverse()) if (isBetter(m.metric_goal, v.metrics[metric], winner?.metrics[metric])) winner = v;
    if (winner) await q.setAlias(tx, m.id, 'best', winner.id, changedBy);
  }

  async versionsOf(callerId: string, name: string) {
    const m = await this.resolve(callerId, name);
    const vs = await q.versions(this.db, m.id);
    const arts = await q.artifacts(
      this.db,
      vs.map((v) => v.id),
    );
    return { data: vs.map((v) => this.versionShape(v, arts)) };
  }

  /** The number of a version, by its id (a job's model_version_id); null once it is gone. */
  async versionNumber(versionId: string): Promise<number | null> {
    return (await q.versionById(this.db, versionId))?.version ?? null;
  }

  /** `ref` is a version number or an alias. */
  async versionRow(m: q.ModelRow, ref: string): Promise<q.VersionRow> {
    let v: q.VersionRow | null;
    // A number beyond what the column holds names no version (rather than a Postgres range error).
    if (/^\d+$/.test(ref)) v = isVersionNumber(ref) ? await q.version(this.db, m.id, Number(ref)) : null;
    else {
      const a = (await q.aliases(this.db, m.id)).find((x) => x.alias === ref);
      v = a ? await q.versionById(this.db, a.version_id) : null;
    }
    if (!v) throw new NotFoundError('model version', `${m.name}@${ref}`);
    return v;
  }

  async getVersion(callerId: string, name: string, ref: string) {
    const m = await this.resolve(callerId, name);
    const v = await this.versionRow(m, ref);
    return this.versionShape(v, await q.artifacts(this.db, [v.id]));
  }

  async setAlias(callerId: string, name: string, alias: string, versionNumber: number) {
    if (!ALIAS.test(alias)) throw new ValidationError('INVALID_ALIAS', 'alias: lower-case letters, digits, "_" or "-", starting with a letter');
    if (AUTO_ALIASES.has(alias)) throw new AppError('ALIAS_RESERVED', `"${alias}" is kept automatically`, { status: 409 });
    const m = await this.resolve(callerId, name, true);
    const v = await q.version(this.db, m.id, versionNumber);
    if (!v) throw new NotFoundError('model version', `${name}@${versionNumber}`);
    await this.db.transaction((tx) => q.setAlias(tx, m.id, alias, v.id, callerId));
    return {
      alias,
      version: versionNumber,
      history: (await q.aliasHistory(this.db, m.id, 20))
        .filter((h) => h.alias === alias)
        .map((h) => ({
          version_id: h.version_id,
          previous_version_id: h.previous_version_id,
          changed_by: h.changed_by,
          changed_at: h.changed_at.toISOString(),
        })),
    };
  }

  async artifactUrl(callerId: string, name: string, ref: string, artifact: string, baseUrl: string) {
    const m = await this.resolve(callerId, name);
    const v = await this.versionRow(m, ref);
    const a = (await q.artifacts(this.db, [v.id])).find((x) => x.name === artifact);
    if (!a) throw new NotFoundError('artifact', artifact);
    const signed = await this.store.signedUrl(a.storage_key, { method: 'GET', expiresInSeconds: this.signedUrlTtlSeconds, baseUrl });
    return { name: a.name, format: a.format, bytes: a.bytes, sha256: a.sha256, url: signed.url, expires_at: signed.expiresAt.toISOString() };
  }

  /** Writes a version's artifacts into `into` as files named after them (serving loads them from there). */
  materialize(versionId: string, into: string, onBytes?: (n: number) => void): Promise<number> {
    return materializeVersion(this.db, this.store, versionId, into, onBytes);
  }

  /** A version's artifacts with their storage keys (where each lives: store.uri(storage_key)); by id, for its job's owner. */
  async versionArtifacts(versionId: string): Promise<q.ArtifactRow[]> {
    return q.artifacts(this.db, [versionId]);
  }

  /** Total size of a version's artifacts: what loading it costs. */
  async artifactBytes(versionId: string): Promise<number> {
    return (await q.artifacts(this.db, [versionId])).filter(isModelFile).reduce((s, a) => s + a.bytes, 0);
  }

  /**
   * For job creation: the output name is new, or names one of the caller's models of this
   * trainer (a new version). With ifExists "fail" an existing model is refused here already;
   * names reserved by open jobs are checked at insert, under the owner's lock (jobs service).
   */
  async checkOutput(
    callerId: string,
    name: string,
    trainer: string,
    ifExists: 'new_version' | 'fail' = 'new_version',
    metric?: { name: string; goal: MetricGoal },
  ): Promise<void> {
    if (!MODEL_NAME.test(name))
      throw new ValidationError('INVALID_MODEL_NAME', 'output.model_name: 1-100 letters, digits, "_", "." or "-", starting with a letter or digit');
    const m = await q.modelByName(this.db, callerId, name);
    if (m && ifExists === 'fail')
      throw new ConflictError('MODEL_NAME_EXISTS', `you already have a model named "${name}" (output.if_exists is "fail")`, {
        model_name: name,
        taken_by: 'model',
      });
    if (m && m.trainer !== trainer)
      throw new AppError('MODEL_TRAINER_MISMATCH', `model "${name}" was trained with ${m.trainer}; a new version must use the same trainer`, { status: 409 });
    // An existing model keeps its own metric: a job does not silently re-rank its versions.
    if (m && metric && (m.primary_metric !== metric.name || m.metric_goal !== metric.goal))
      throw new ConflictError(
        'MODEL_METRIC_MISMATCH',
        `model "${name}" chooses best by ${m.primary_metric ?? 'nothing'} (${m.metric_goal ?? 'no goal'}), not ${metric.name} (${metric.goal}); PATCH /v1/models/${name} with primary_metric to change it, or leave output.primary_metric out`,
        { model_name: name, primary_metric: m.primary_metric, metric_goal: m.metric_goal },
      );
  }
}

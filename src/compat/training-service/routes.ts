import type { FastifyInstance } from 'fastify';
import type { Ctx } from './context.js';
import { loadAll, loadingStatus, loadNamed } from './loading.js';
import { recentLogs } from './logs.js';
import { writeSample } from './sample-data.js';
import { DEFAULT_DATASET } from './paths.js';
import * as S from './schemas.js';
import { startTraining } from './training.js';
import { baseModels, byVersion, jobDetail, jobOf, jobSummary, knownModel, latestJob, modelStatus, performance, registryEntry, trainedModels } from './views.js';

const nameParams = {
  type: 'object',
  required: ['model_name'],
  additionalProperties: false,
  properties: { model_name: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

/**
 * The error answers every route lists in the document's envelope: 400 (any route: the input
 * policy refuses a NUL in a query string even where no schema is), 401 (only when the operator
 * set COMPAT_TRAINING_SERVICE_API_KEY), 429 (rate limit), 500 (the document lists it), and for
 * POSTs 413 and 415. The layer would add some of these, not all: listed here, once.
 */
const common = S.errors(400, 401, 429, 500);
const commonPost = S.errors(400, 401, 413, 415, 429, 500);
const TRAINING_503 =
  '503: the trainer or the base model is not available on this server (TRAINER_UNAVAILABLE, BASE_MODEL_UNAVAILABLE), or the service account has too few credits (INSUFFICIENT_CREDITS, 402 in /v1).';

export function routes(app: FastifyInstance, c: Ctx): void {
  const { s } = c;
  /** A GET route; its params and query are what its schema (in `extra`) validated. */
  type Req = { params: { model_name: string; job_id: string }; query: { limit?: number } };
  const get = (url: string, summary: string, response: Record<string, unknown>, handler: (req: Req) => Promise<unknown>, extra: Record<string, unknown> = {}) =>
    app.get(url, { schema: { summary, ...extra, response: { ...response, ...common } }, handler: (req) => handler(req as unknown as Req) });

  get('/', 'Health check', { 200: S.Health }, async () => ({ status: 'running', service: 'training' }));

  get('/models/available', 'Base models the facade trains from (the catalog’s, for hf-sequence-classifier)', { 200: S.Available }, async () => {
    const bases = baseModels(c);
    return {
      available_models: bases.map((b) => b.id),
      model_configs: Object.fromEntries(bases.map((b) => [b.id, { path: b.path, type: b.type, labels: b.labels, available: b.available }])),
    };
  });

  const registry = async () => {
    const models = await trainedModels(c);
    const withVersions = models.filter((m) => m.versions.length > 0);
    return {
      latest_models: Object.fromEntries(withVersions.map((m) => [m.name, registryEntry(m.name, byVersion(m, 'latest')!, 'latest')])),
      best_models: Object.fromEntries(withVersions.map((m) => [m.name, registryEntry(m.name, byVersion(m, 'best')!, 'best')])),
      versions: Object.fromEntries(withVersions.map((m) => [m.name, m.versions.map((v) => registryEntry(m.name, v))])),
    };
  };
  get('/models/registry', 'Latest and best version of every trained model, and all versions', { 200: S.Registry }, registry);
  get('/models/latest', 'The latest version of every trained model', { 200: S.Latest }, async () => ({ latest_models: (await registry()).latest_models }));
  get('/models/best', 'The best version (by validation F1) of every trained model', { 200: S.Best }, async () => ({
    best_models: (await registry()).best_models,
  }));
  get(
    '/models/versions/:model_name',
    'Every version of a model, newest first',
    { 200: S.Versions, ...S.errors(400, 404) },
    async (req) => {
      const { trained } = await knownModel(c, req.params.model_name);
      return { model_name: req.params.model_name, versions: (trained?.versions ?? []).map((v) => registryEntry(req.params.model_name, v)) };
    },
    { params: nameParams },
  );

  const summary = async (name: string) => {
    const { trained, base } = await knownModel(c, name);
    const latest = trained?.versions[0];
    const job = await latestJob(c, name);
    return {
      name,
      type: 'pytorch',
      trained: !!latest,
      path: latest ? `/v1/models/${name}/versions/${latest.version}` : (base?.path ?? ''),
      status: job ? modelStatus(job.status) : latest ? 'completed' : base?.available ? 'available' : 'not_installed',
      performance: latest ? performance(latest) : null,
      latest,
    };
  };
  get('/models', 'Every model: the base models and the models trained from them', { 200: S.ModelsList }, async () => {
    const names = [...new Set([...baseModels(c).map((b) => b.id), ...(await trainedModels(c)).map((m) => m.name)])];
    const models: Record<string, unknown> = {};
    const info: Record<string, unknown> = {};
    for (const n of names) {
      const { latest: _l, performance: perf, ...rest } = await summary(n);
      models[n] = { ...rest, performance: perf ? { accuracy: perf.accuracy, f1_score: perf.f1_score } : null };
      info[n] = rest;
    }
    return { models, available_models: names, model_info: info };
  });
  get(
    '/models/:model_name',
    'One model, with its performance and how its latest version was trained',
    { 200: S.ModelInfo, ...S.errors(400, 404) },
    async (req) => {
      const { latest, ...rest } = await summary(req.params.model_name);
      const hp = latest?.hyperparameters ?? {};
      return {
        ...rest,
        training_info: latest
          ? { last_trained: latest.created_at, epochs: Number(hp.num_epochs), batch_size: Number(hp.batch_size), learning_rate: Number(hp.learning_rate) }
          : null,
      };
    },
    { params: nameParams },
  );
  get(
    '/models/:model_name/status',
    'Training status of a model: its latest job (status, progress in percent, epochs, loss, best metric, ETA)',
    { 200: S.TrainingStatus, ...S.errors(400, 404) },
    async (req) => {
      const name = req.params.model_name;
      await knownModel(c, name);
      const job = await latestJob(c, name);
      if (!job)
        return {
          model_name: name,
          status: 'not_trained',
          job_id: null,
          progress: 0,
          current_epoch: 0,
          total_epochs: 0,
          current_loss: null,
          best_metric: null,
          start_time: null,
          estimated_completion: null,
        };
      const { result: _r, error: _e, ...d } = await jobDetail(c, job);
      return { ...d, status: modelStatus(job.status) };
    },
    { params: nameParams },
  );

  get('/model-loading/status', 'Model loading: trained models in the serving cache, base models present on this server', { 200: S.LoadingStatus }, async () =>
    loadingStatus(c),
  );
  app.post('/model-loading/start', {
    schema: { summary: 'Load every model (trained ones into the serving cache; nothing is downloaded)', response: { 200: S.LoadingStarted, ...commonPost } },
    handler: async () => {
      const names = await loadAll(c);
      return { message: 'Model loading started', total_models: names.length, loading_models: names };
    },
  });
  app.post<{ Body: S.LoadSpecificInput }>('/model-loading/load-specific', {
    schema: {
      summary: 'Load the named models; an unknown one is a 404 and nothing starts',
      body: S.LoadSpecificBody,
      response: { 200: S.LoadSpecificStarted, ...S.errors(404, 503), ...commonPost },
    },
    handler: async (req) => {
      await loadNamed(c, req.body.models);
      return { message: 'Loading specific models started', models: req.body.models, status: 'loading' };
    },
  });
  app.post<{ Body: S.LoadSingleInput }>('/model-loading/load-single', {
    schema: { summary: 'Load one model', body: S.LoadSingleBody, response: { 200: S.LoadSingleStarted, ...S.errors(404, 503), ...commonPost } },
    handler: async (req) => {
      await loadNamed(c, [req.body.model_name]);
      return { message: `Loading model ${req.body.model_name} started`, model_name: req.body.model_name, status: 'loading' };
    },
  });

  get('/jobs', 'The facade’s training jobs (the newest 200), by id', { 200: S.JobsList }, async () => {
    const jobs = (await s.jobs.list(c.account.id, 200, undefined, {})).data.map(jobSummary);
    return {
      jobs: Object.fromEntries(jobs.map((j) => [j.job_id, j])),
      total_jobs: jobs.length,
      running_jobs: jobs.filter((j) => j.status === 'running' || j.status === 'cancelling').length,
      completed_jobs: jobs.filter((j) => j.status === 'completed').length,
    };
  });
  get(
    '/jobs/:job_id',
    'A job: status, progress in percent, epochs, loss, best metric, ETA; the result once completed',
    { 200: S.JobStatus, ...S.errors(400, 404) },
    async (req) => jobDetail(c, await jobOf(c, req.params.job_id)),
    { params: { type: 'object', required: ['job_id'], additionalProperties: false, properties: { job_id: { type: 'string', minLength: 1, maxLength: 100 } } } },
  );

  for (const kind of ['train', 'retrain'] as const) {
    app.post<{ Body: S.TrainInput }>(`/${kind}`, {
      schema: {
        summary: kind === 'train' ? 'Train model_name from its base model' : 'Retrain model_name from its latest version (version N+1)',
        description: `${TRAINING_503} Without training_data_path: the data root's ${DEFAULT_DATASET}, else 400 TRAINING_DATA_REQUIRED.`,
        body: S.TrainBody,
        response: { 200: S.TrainStarted, ...S.errors(404, 503), ...commonPost },
      },
      handler: async (req) => startTraining(c, kind, req.body),
    });
  }

  app.post('/create-sample-data', {
    schema: { summary: 'Write the sample training data (4 categories × 5 examples) to the data root', response: { 200: S.SampleData, ...commonPost } },
    handler: async () => {
      const r = await writeSample(c.settings.dataRoot);
      return { message: 'Sample data created', path: `${c.settings.pathPrefix}/${DEFAULT_DATASET}`, ...r };
    },
  });

  get(
    '/logs',
    'Recent log lines of the facade’s jobs, newest last',
    { 200: S.Logs, ...S.errors(400) },
    async (req) => {
      const logs = await recentLogs(c, req.query.limit ?? 100);
      return { logs, total_logs: logs.length };
    },
    { querystring: S.LogsQuery },
  );
}

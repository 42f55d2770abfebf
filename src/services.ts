import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { AccountsService, accountsSettings } from './domain/accounts/service.js';
import { AttemptsService } from './domain/attempts/service.js';
import { AttemptTokens } from './domain/attempts/token.js';
import { CatalogService } from './domain/catalog/service.js';
import { GenerationsService } from './domain/generations/service.js';
import { PythonProbe } from './python/probe.js';
import type { AvailabilityProbe, TrainerDef } from './domain/catalog/types.js';
import { CreditsService } from './domain/credits/service.js';
import { DatasetsService } from './domain/datasets/service.js';
import { DEFAULT_VALIDATION_LIMITS } from './domain/datasets/validate/types.js';
import { FilesService } from './domain/files/service.js';
import { JobLifecycle } from './domain/jobs/lifecycle/index.js';
import { JobSamplesService } from './domain/jobs/samples.js';
import { JobsService } from './domain/jobs/service.js';
import { RegistryService } from './domain/registry/service.js';
import { SweepsService } from './domain/sweeps/service.js';
import { ModelCache } from './serving/cache.js';
import { BaseModelCache } from './worker/model-cache.js';
import type { Logger } from 'pino';
import { ServingService } from './serving/service.js';
import { predictorModule, runtimeProbe, type RuntimeContext } from './trainers/runtimes/index.js';
import { WebhooksService } from './domain/webhooks/service.js';
import type { EventHub } from './events/hub.js';
import { parseAddressPolicy, type Resolver } from './net/address-guard.js';
import type { BlobStore } from './storage/blob-store.js';
import { FsBlobStore } from './storage/fs.js';
import { deriveKey } from './storage/signing.js';

/** Everything a route or worker needs, built once and passed in (no module-level state). */
export interface Services {
  config: Config;
  db: Db;
  store: BlobStore;
  blobSigningKey: Buffer;
  accounts: AccountsService;
  files: FilesService;
  datasets: DatasetsService;
  catalog: CatalogService;
  generations: GenerationsService;
  credits: CreditsService;
  registry: RegistryService;
  webhooks: WebhooksService;
  jobs: JobsService;
  /** Sample images rendered during training. */
  samples: JobSamplesService;
  lifecycle: JobLifecycle;
  sweeps: SweepsService;
  serving: ServingService;
  cache: ModelCache;
  /** The worker's copies of store-backed base models (one per process: concurrent jobs share downloads). */
  baseModelCache: BaseModelCache;
  /** Short-lived credentials of remote attempts (Kubernetes, Slurm launchers): issued by the worker, verified by every replica. */
  attemptTokens: AttemptTokens;
  /** What a remote attempt's launcher writes through the API (events, uploads, its final report). */
  attempts: AttemptsService;
  /** Live job events; set by the runtime once it listens. */
  hub: EventHub | null;
}

export interface ServiceOverrides {
  store?: BlobStore;
  resolver?: Resolver;
  probe?: AvailabilityProbe;
  onError?: (msg: string, err: unknown) => void;
  /** Progress of long operations (a base model copied into the store). */
  logger?: Logger;
}

export async function createServices(config: Config, db: Db, o: ServiceOverrides = {}): Promise<Services> {
  const blobSigningKey = deriveKey(config.secret, 'blob-url');
  const store = o.store ?? (await createStore(config, blobSigningKey));
  const credits = new CreditsService(db, config.credits.enabled);
  const grant = config.signupCreditGrant;
  const accounts = new AccountsService({
    db,
    ...accountsSettings(config),
    principalCache: config.authCache,
    onSignup: async (tx, userId) => (grant > 0 ? credits.grant(tx, userId, grant, 'signup grant', null) : undefined),
  });
  const files = new FilesService({
    db,
    store,
    maxFileBytes: config.uploads.maxFileBytes,
    signedUrlTtlSeconds: config.uploads.signedUrlTtlSeconds,
    import: {
      maxBytes: config.uploads.importMaxBytes,
      timeoutMs: config.uploads.importTimeoutMs,
      policy: parseAddressPolicy(config.uploads.importAllow),
      ...(o.resolver ? { resolver: o.resolver } : {}),
      // Read at request time: the catalog is built below and may be reloaded.
      largestImageSet: () => catalog.largestImageSet(),
    },
  });
  const datasets = new DatasetsService({
    db,
    store,
    files,
    maxFiles: config.datasets.maxFiles,
    limits: { ...DEFAULT_VALIDATION_LIMITS, maxImages: config.datasets.maxImages, maxRows: config.datasets.maxRows, video: config.datasets.video },
    // Jobs are wired below; the check runs only on a DELETE, long after.
    inUseChecks: [(db, id) => jobs.datasetInUse(db, id)],
    ...(o.onError ? { onError: o.onError } : {}),
  });
  // Trainers are reached through their runtimes only; the Python probe caches which packs import.
  const runtime: RuntimeContext = { python: config.python.bin, packs: new PythonProbe(config.python.bin) };
  const catalog = new CatalogService(config.dataDir, {
    ...(o.probe ? { probe: o.probe } : {}),
    ...(o.logger ? { log: o.logger } : {}),
    runtimes: runtimeProbe(runtime),
    db,
    store,
  });
  await catalog.load();
  const registry = new RegistryService(db, store, config.uploads.signedUrlTtlSeconds);
  const webhooks = new WebhooksService({ db, policy: parseAddressPolicy(config.webhooks.allow), ...(o.resolver ? { resolver: o.resolver } : {}) });
  const lifecycle = new JobLifecycle({ credits, webhooks, registry });
  const jobs: JobsService = new JobsService({ db, catalog, datasets, registry, credits, webhooks, lifecycle, limits: config.jobs, cache: config.jobCache });
  const samples = new JobSamplesService({ db, store, jobs, signedUrlTtlSeconds: config.uploads.signedUrlTtlSeconds });
  const sweeps = new SweepsService({ db, jobs, catalog });
  const predictors = (t: TrainerDef) => predictorModule(t, runtime);
  const cache = new ModelCache({ registry, dir: config.serving.dir, maxBytes: config.serving.cacheBytes, predictors });
  const serving = new ServingService({ registry, catalog, cache, predictors, maxInstances: config.serving.predictMaxInstances });
  const attempts = new AttemptsService({
    db,
    store,
    lifecycle,
    maxArtifactBytes: config.worker.maxArtifactBytes,
    signedUrlTtlSeconds: config.uploads.signedUrlTtlSeconds,
  });
  const baseModelCache = new BaseModelCache({ ...config.worker.modelCache, store, ...(o.logger ? { log: o.logger } : {}) });
  const generations = new GenerationsService({ db, store, catalog, registry, jobs, signedUrlTtlSeconds: config.uploads.signedUrlTtlSeconds });
  return {
    config,
    db,
    store,
    blobSigningKey,
    accounts,
    files,
    datasets,
    catalog,
    credits,
    registry,
    webhooks,
    jobs,
    samples,
    lifecycle,
    sweeps,
    serving,
    cache,
    baseModelCache,
    generations,
    attemptTokens: new AttemptTokens(config.secret),
    attempts,
    hub: null,
  };
}

/**
 * The store STORAGE names: the filesystem under STORAGE_DIR, or one S3 bucket. The AWS SDK is
 * imported only for S3: loading it costs ~0.15 s of every start-up that never uses it.
 */
export async function createStore(config: Config, blobSigningKey: Buffer): Promise<BlobStore> {
  const s = config.storage;
  if (s.kind === 'fs') return new FsBlobStore(config.storageDir, blobSigningKey);
  const { S3BlobStore } = await import('./storage/s3.js');
  return new S3BlobStore({
    bucket: s.bucket,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
  });
}

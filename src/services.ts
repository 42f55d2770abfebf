import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { AccountsService } from './domain/accounts/service.js';
import { CatalogService } from './domain/catalog/service.js';
import type { AvailabilityProbe } from './domain/catalog/types.js';
import { DatasetsService } from './domain/datasets/service.js';
import { DEFAULT_VALIDATION_LIMITS } from './domain/datasets/validate/types.js';
import { FilesService } from './domain/files/service.js';
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
}

export interface ServiceOverrides {
  store?: BlobStore;
  resolver?: Resolver;
  probe?: AvailabilityProbe;
  onError?: (msg: string, err: unknown) => void;
}

export async function createServices(config: Config, db: Db, o: ServiceOverrides = {}): Promise<Services> {
  const blobSigningKey = deriveKey(config.secret, 'blob-url');
  const store = o.store ?? new FsBlobStore(config.storageDir, blobSigningKey);
  const accounts = new AccountsService({ db, secret: config.secret, jwtTtlSeconds: config.jwtTtlSeconds, signupPolicy: config.signupPolicy, login: config.login });
  const files = new FilesService({
    db,
    store,
    maxFileBytes: config.uploads.maxFileBytes,
    signedUrlTtlSeconds: config.uploads.signedUrlTtlSeconds,
    import: { maxBytes: config.uploads.importMaxBytes, timeoutMs: config.uploads.importTimeoutMs, policy: parseAddressPolicy(config.uploads.importAllow), ...(o.resolver ? { resolver: o.resolver } : {}) },
  });
  const datasets = new DatasetsService({
    db,
    store,
    maxFiles: config.datasets.maxFiles,
    limits: { ...DEFAULT_VALIDATION_LIMITS, maxImages: config.datasets.maxImages, maxRows: config.datasets.maxRows },
    ...(o.onError ? { onError: o.onError } : {}),
  });
  const catalog = new CatalogService(config.dataDir, o.probe);
  await catalog.load();
  return { config, db, store, blobSigningKey, accounts, files, datasets, catalog };
}

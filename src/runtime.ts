import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type DestinationStream, type Logger } from 'pino';
import { buildFacadeServer, buildServer } from './app/server.js';
import { startFacadeServers, type FacadeServer } from './compat/index.js';
import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { migrate } from './db/migrate.js';
import { errSerializer } from './db/redact.js';
import { checkSecretFingerprint } from './domain/accounts/secret-fingerprint.js';
import { openDb } from './db/open.js';
import { EventRetention } from './domain/jobs/retention.js';
import { WebhookDeliverer } from './domain/webhooks/deliverer.js';
import { EventHub } from './events/hub.js';
import { parseAddressPolicy } from './net/address-guard.js';
import { createServices, type ServiceOverrides, type Services } from './services.js';
import { Tracking } from './worker/integrations.js';
import { Worker } from './worker/worker.js';
import { Sandbox } from './executors/sandbox.js';
import { WarmPool } from './executors/warm-pool.js';
import type { Executor } from './executors/executor.js';
import { LocalExecutor } from './executors/local-executor.js';
import { clusterExecutor } from './executors/cluster.js';

export interface Runtime {
  app: FastifyInstance | null;
  services: Services;
  worker: Worker | null;
  url: string;
  /** Facades on ports of their own (TRAINYARD_COMPAT=name:port): name → base URL. */
  compatUrls: Record<string, string>;
  close(): Promise<void>;
}

export interface RuntimeOptions extends ServiceOverrides {
  db?: Db;
  logger?: Logger;
  listen?: boolean;
  /** serve: the HTTP API (and the in-process worker unless WORKER_IN_PROCESS=false); worker: workers only. */
  mode?: 'serve' | 'worker';
  /** Tests: keep job folders for inspection. */
  keepJobDirs?: boolean;
  /**
   * Tests: the executor the worker uses, given the local one (a test stands in for a cluster
   * that loses a node by wrapping it). Absent: the local executor.
   */
  executor?: (local: LocalExecutor) => Executor;
}

/** `err` goes through a serializer that never writes a query's parameters (src/db/redact.ts). */
export function createLogger(config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'logFormat'>>, destination?: DestinationStream): Logger {
  const options = { level: config.logLevel, base: { service: 'trainyard' }, serializers: { err: errSerializer } };
  if (destination) return pino(options, destination);
  const format = config.logFormat ?? 'json';
  if (format === 'pretty' || (format === 'auto' && process.stdout.isTTY)) return pino(options, prettyStream());
  return pino(options);
}

/**
 * pino-pretty as a synchronous stream in this thread (no transport worker), loaded only when a
 * person is reading: a collector reading JSON never pays for it. Lines read
 * `12:01:02.345 INFO: trainyard is ready` with the fields indented below.
 */
function prettyStream(): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: Record<string, unknown>) => DestinationStream;
  return pretty({ sync: true, colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

/** How startWorker picks its executor; every field is optional (the local executor). */
export interface WorkerOptions {
  /** Tests: keep job folders for inspection. */
  keepJobDirs?: boolean | undefined;
  /** Tests: an executor made from the local one (RuntimeOptions.executor). */
  executor?: RuntimeOptions['executor'];
  /** clusterExecutor's answer for config.worker.executor: a cluster's executor, or null for the local one. */
  cluster?: Executor | null;
}

/**
 * The worker, on the local executor unless `cluster` (clusterExecutor's answer for
 * config.worker.executor) is given or a test's `executor` wraps the local one.
 */
export function startWorker(config: Config, s: Services, log: Logger, o: WorkerOptions = {}): Worker {
  const { keepJobDirs = false, executor, cluster = null } = o;
  const sandbox = new Sandbox(
    config.worker.sandbox,
    // The Python environment's root (…/.venv), not just its bin/.
    // The model cache stays passable: each job's base model in it is opened to its trainer.
    {
      dataDir: config.dataDir,
      workDir: config.worker.workDir,
      readable: [path.dirname(path.dirname(config.python.bin)), config.worker.modelCache.dir],
    },
    (msg) => log.warn(msg),
  );
  const warm = config.worker.warmTrainers
    ? new WarmPool({ workDir: config.worker.workDir, sandbox, warn: (msg, err) => log.warn(err === undefined ? {} : { err }, msg) })
    : undefined;
  const deps = {
    db: s.db,
    store: s.store,
    catalog: s.catalog,
    models: s.baseModelCache,
    lifecycle: s.lifecycle,
    maxArtifactBytes: config.worker.maxArtifactBytes,
    workDir: config.worker.workDir,
    python: config.python.bin,
    keepJobDirs,
    sandbox,
    ...(warm ? { warm } : {}),
  };
  const local = new LocalExecutor(deps);
  const chosen = cluster ?? local;
  // A tracking URI is checked like a webhook URL: the same address policy, on every request.
  const tracking = new Tracking({ db: s.db, store: s.store, policy: parseAddressPolicy(config.webhooks.allow), log });
  return new Worker(
    {
      ...deps,
      tracking,
      executor: executor ? executor(local) : chosen,
      leaseSeconds: config.jobs.leaseSeconds,
      stopGraceMs: config.worker.stopGraceMs,
      log,
    },
    {
      concurrency: config.worker.concurrency,
      gpus: config.worker.gpus,
      labels: config.worker.labels,
      pollMs: config.worker.pollMs,
      maxRunningPerUser: config.jobs.maxRunningPerUser,
    },
  );
}

/**
 * Opens the database, migrates, wires the services, then starts what this process runs: the
 * HTTP API with its event hub, a worker, and the webhook deliverer. Closing stops them in the
 * reverse order: no new requests, workers drain (jobs handed back), deliveries finish.
 */
export async function startRuntime(config: Config, o: RuntimeOptions = {}): Promise<Runtime> {
  const logger = o.logger ?? createLogger(config);
  const mode = o.mode ?? 'serve';
  const db = o.db ?? (await openDb(config, (m, e) => logger.error({ err: e }, m)));
  let app: FastifyInstance | null = null;
  let services: Services | null = null;
  let worker: Worker | null = null;
  let deliverer: WebhookDeliverer | null = null;
  let hub: EventHub | null = null;
  let retention: EventRetention | null = null;
  let facadeServers: FacadeServer[] = [];
  const close = async () => {
    await Promise.all(facadeServers.map((f) => f.app.close()));
    await app?.close();
    await worker?.stop(config.worker.drainMs);
    await deliverer?.stop();
    await hub?.stop();
    await services?.files.stopPurging();
    await retention?.stop();
    await services?.datasets.stop();
    await services?.cache.close();
    await services?.catalog.close();
    await services?.accounts.principals.stop();
    await services?.jobs.cache.stop();
    if (!o.db) await db.close();
  };
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    // Several processes share a Postgres database (the embedded PGlite has one, its secret beside
    // it). What signs or checks tokens must agree: every API process, and a worker that mints
    // attempt tokens for a cluster; a worker with local trainers signs nothing, so it still needs
    // only DATABASE_URL and the store.
    if (db.kind === 'pg' && (mode === 'serve' || config.worker.executor.kind !== 'local')) {
      const secret = await checkSecretFingerprint(db, config.secret, config.secretRotate);
      if (secret === 'rotated') logger.warn('TRAINYARD_SECRET changed (TRAINYARD_SECRET_ROTATE=true): tokens signed with the old one are refused');
    }
    services = await createServices(config, db, { onError: (m, e) => logger.error({ err: e }, m), ...o, logger });
    if (config.admin) {
      const { user, created } = await services.accounts.ensureAdmin(config.admin);
      logger.info({ username: user.username, created }, 'admin account ensured from TRAINYARD_ADMIN_*');
    }
    await services.catalog.watch();
    deliverer = new WebhookDeliverer({
      db,
      policy: parseAddressPolicy(config.webhooks.allow),
      ...(o.resolver ? { resolver: o.resolver } : {}),
      timeoutMs: config.webhooks.timeoutMs,
      maxAttempts: config.webhooks.maxAttempts,
      onError: (m, e) => logger.warn({ err: e }, m),
    });
    await deliverer.start();
    if (mode === 'worker' || config.worker.inProcess) {
      const remote = { db, store: services.store, tokens: services.attemptTokens, maxArtifactBytes: config.worker.maxArtifactBytes };
      const cluster = o.executor ? null : await clusterExecutor(config, remote, logger);
      worker = startWorker(config, services, logger, { keepJobDirs: o.keepJobDirs, executor: o.executor, cluster });
      await worker.start();
    }
    let url = '';
    if (mode === 'serve') {
      await services.datasets.resume();
      services.files.startPurging(config.uploads.purgeIntervalMs, (m, e) => logger.warn({ err: e }, m));
      retention = new EventRetention(db, config.events.retention, (m, e) => logger.warn({ err: e }, m));
      retention.start();
      const jobs = services.jobs;
      // Before the server takes requests: the cache serves nothing until it hears invalidations.
      await services.accounts.principals.start();
      await services.jobs.cache.start();
      hub = new EventHub(db, (jobId, after, limit) => jobs.eventsSince(jobId, after, limit), config.events);
      await hub.start();
      services.hub = hub;
      app = await buildServer(services, logger);
      if (o.listen !== false) {
        url = await app.listen({ port: config.port, host: config.host });
        const s = services;
        facadeServers = await startFacadeServers(s, config.host, (f) => buildFacadeServer(s, logger, f), logger);
      } else await app.ready();
    }
    const compatUrls = Object.fromEntries(facadeServers.map((f) => [f.name, f.url]));
    return { app, services, worker, url, compatUrls, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

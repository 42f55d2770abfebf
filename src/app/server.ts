import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import { postgresRateLimitStore, usesPostgresStore } from './plugins/rate-limit-store.js';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import formatsModule from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { facadeFrameworkErrors } from '../compat/envelope.js';
import { addFacadeSchemas, enabledFacades, facadeUnder, mountFacade } from '../compat/index.js';
import type { Facade } from '../compat/types.js';
import { TooManyRequestsError } from '../errors.js';
import type { Services } from '../services.js';
import { registerAuth } from './plugins/auth.js';
import { registerErrorHandling } from './plugins/errors.js';
import { registerInputPolicy, restrictFormats } from './plugins/input-policy.js';
import { registerMetrics } from './plugins/metrics.js';
import blobRoutes from './routes/blobs.js';
import { dashboardFallback } from './routes/dashboard.js';
import opsRoutes from './routes/ops.js';
import adminRoutes from './routes/v1/admin.js';
import attemptRoutes from './routes/v1/attempts.js';
import authRoutes from './routes/v1/auth.js';
import catalogRoutes from './routes/v1/catalog.js';
import creditRoutes from './routes/v1/credits.js';
import datasetRoutes from './routes/v1/datasets.js';
import fileRoutes from './routes/v1/files.js';
import jobRoutes from './routes/v1/jobs.js';
import modelRoutes from './routes/v1/models.js';
import generationRoutes from './routes/v1/generations.js';
import servingRoutes from './routes/v1/serving.js';
import sweepRoutes from './routes/v1/sweeps.js';
import webhookRoutes from './routes/v1/webhooks.js';
import { documentStandardErrors, errorSchema } from './schemas.js';
import { decorateLazySchemas, LazySchemas, lazySerializerFactory } from './lazy-schemas.js';
import './types.js';
import { clientAddress } from '../net/client-address.js';

// ajv-formats is CommonJS: under NodeNext its default export sits one level down.
const addFormats = (formatsModule as unknown as { default: typeof formatsModule.default }).default;

const JSON_BODY_LIMIT = 1024 * 1024;

/**
 * Bodies are validated strictly (no type coercion, extra fields rejected, never silently
 * dropped); query strings and path params are strings on the wire, so they are coerced.
 * Each is compiled on its route's first request (lazy-schemas.ts).
 */
function validators(lazy: LazySchemas) {
  const common = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false } as const;
  const body = new Ajv({ ...common, coerceTypes: false });
  const params = new Ajv({ ...common, coerceTypes: 'array' });
  addFormats(body);
  addFormats(params);
  restrictFormats(body);
  restrictFormats(params);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => lazy.validator(() => (httpPart === 'body' ? body : params).compile(schema));
}

/**
 * What every server Trainyard runs shares, the main one and a facade's own port alike: request
 * ids, the error envelope, the input policy, strict validation, auth, rate limits, multipart
 * and WebSockets. `withMetrics` and the OpenAPI document belong to the main server only.
 */
async function baseApp(s: Services, logger: Logger, facades: readonly Facade[], openapi: boolean): Promise<{ app: FastifyInstance; metrics: Registry | null }> {
  const lazy = new LazySchemas();
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Response serializers compiled on first use, like the validators (lazy-schemas.ts).
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory(lazy) } },
    bodyLimit: JSON_BODY_LIMIT,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    trustProxy: s.config.trustProxy,
    return503OnClosing: true,
    // Longer than any path param's own maxLength, even percent-encoded (owner%2Fname), so the
    // route's schema decides (400) and a longer segment answers 414 in our error envelope.
    routerOptions: { maxParamLength: 1000 },
    // Router errors under a facade's paths answer in its envelope: the main server finds it by
    // the /compat/<name> prefix; a facade's own server is that facade everywhere.
    frameworkErrors: facadeFrameworkErrors((url) => (openapi ? facadeUnder(url, facades) : (facades[0] ?? null))),
  });
  app.setValidatorCompiler(validators(lazy));
  decorateLazySchemas(app, lazy);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  // A facade's own server is the facade at its root: its envelope (useEnvelope) answers unknown
  // paths there, and Fastify takes one not-found handler per prefix.
  registerErrorHandling(app, { notFound: openapi, fallback: openapi ? dashboardFallback(s.config.dashboardDir) : null });
  // Before every route and the auth hook: one input policy for all of them.
  registerInputPolicy(app);
  app.addSchema(errorSchema);
  addFacadeSchemas(app, facades);

  if (openapi) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Trainyard API',
          version: '1',
          description: 'Train models through an API: datasets, jobs, live progress, a model registry and credits.',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'A JWT from /v1/auth/login or an API key (ty_…)' },
            attemptToken: { type: 'http', scheme: 'bearer', description: 'An attempt token (tya1.…) a worker issued for one remote job attempt' },
          },
        },
        tags: facades.map((f) => f.tag),
      },
    });
    // swagger-ui registers its own routes: the docs are public, like /openapi.json.
    app.addHook('onRoute', (route) => {
      if (route.url.startsWith('/docs')) route.config = { ...(route.config as object), auth: 'public', rateLimit: false } as typeof route.config;
    });
  }
  // Every route documents the errors its kind of route can give (401, 429, 400, 404, …).
  app.addHook('onRoute', (route) => documentStandardErrors(route as Parameters<typeof documentStandardErrors>[0]));
  if (openapi) {
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: true } });
    app.get('/openapi.json', { config: { auth: 'public', rateLimit: false }, schema: { hide: true } }, async () => app.swagger());
  }

  registerAuth(app, s.accounts, s.attemptTokens);
  const metrics = openapi ? registerMetrics(app) : null;
  const limit = s.config.rateLimits.default;
  const shared = usesPostgresStore(s.config.rateLimitStore, s.db) ? postgresRateLimitStore(s.db) : null;
  if (shared) app.addHook('onClose', shared.drain);
  await app.register(rateLimit, {
    ...(shared ? { store: shared.Store } : {}),
    global: limit.max > 0,
    // After auth (onRequest), so limits follow the caller rather than a shared address.
    hook: 'preHandler',
    max: limit.max,
    timeWindow: limit.windowMs,
    // A launcher is limited per attempt: many of them share a cluster's egress address.
    keyGenerator: (req) =>
      req.principal ? `user:${req.principal.userId}` : req.attempt ? `attempt:${req.attempt.jobId}:${req.attempt.attempt}` : `ip:${clientAddress(req.ip)}`,
    errorResponseBuilder: (_req, ctx) =>
      new TooManyRequestsError('RATE_LIMITED', `rate limit of ${ctx.max} requests per ${ctx.after} exceeded`, Math.ceil(ctx.ttl / 1000)),
  });
  await app.register(multipart, {
    // One byte over our own cap, so the store's meter (which cleans up) always trips first.
    limits: { fileSize: s.config.uploads.maxFileBytes + 1, files: 1, fields: 10, parts: 12, fieldSize: 64 * 1024 },
  });

  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  return { app, metrics };
}

/** The main server: /v1, the operations routes, blobs, and every enabled facade under /compat/<name>. */
export async function buildServer(s: Services, logger: Logger): Promise<FastifyInstance> {
  const facades = enabledFacades(s.config.compat.facades).map((c) => c.facade);
  const { app, metrics } = await baseApp(s, logger, facades, true);

  // Each route module gets only the services it uses.
  const {
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
    sweeps,
    serving,
    generations,
    attempts,
    hub,
  } = s;
  opsRoutes(app, { db, store: s.store, storage: s.config.storage.kind }, metrics!);
  authRoutes(app, { accounts, config });
  fileRoutes(app, { files, config });
  datasetRoutes(app, { datasets, files, config });
  catalogRoutes(app, { catalog });
  adminRoutes(app, { accounts, catalog });
  jobRoutes(app, { jobs, hub, samples, config, accounts });
  creditRoutes(app, { credits, accounts, db });
  modelRoutes(app, { registry, config });
  webhookRoutes(app, { webhooks });
  sweepRoutes(app, { sweeps });
  servingRoutes(app, { serving, config });
  generationRoutes(app, { generations, config });
  attemptRoutes(app, { attempts, config, db: s.db, store, catalog: s.catalog });
  await app.register((instance) => blobRoutes(instance, { store, blobSigningKey, config, files, attempts }));
  for (const f of facades) await mountFacade(app, f, s, `/compat/${f.name}`);
  return app;
}

/** A facade's own server (TRAINYARD_COMPAT=name:port): exactly the document's paths, at /. */
export async function buildFacadeServer(s: Services, logger: Logger, f: Facade): Promise<FastifyInstance> {
  const { app } = await baseApp(s, logger.child({ facade: f.name }), [f], false);
  await mountFacade(app, f, s, '');
  // The signed URLs a facade hands out (images, previews, model files) are the store's, at
  // /blobs/* of the host that was asked: its own port serves them too, signature-checked and
  // hidden from /openapi.json exactly as on the main server.
  const { store, blobSigningKey, config, files, attempts } = s;
  await app.register((instance) => blobRoutes(instance, { store, blobSigningKey, config, files, attempts }));
  return app;
}

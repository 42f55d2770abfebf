import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { pendingMigrations } from '../../db/migrate.js';
import type { Services } from '../../services.js';

export type OpsDeps = Pick<Services, 'db' | 'store'> & { storage: 'fs' | 's3' };

const readiness = {
  type: 'object',
  properties: { status: { type: 'string' }, database: { type: 'string' }, pending_migrations: { type: 'integer' }, storage: { type: 'string' } },
} as const;

export default function opsRoutes(app: FastifyInstance, s: OpsDeps, registry: Registry) {
  app.get('/healthz', {
    config: { auth: 'public', rateLimit: false },
    schema: { tags: ['ops'], summary: 'Liveness: the process answers', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
    handler: async () => ({ status: 'ok' }),
  });

  app.get('/readyz', {
    config: { auth: 'public', rateLimit: false },
    schema: {
      tags: ['ops'],
      summary: 'Readiness: database reachable, migrations applied, blob store reachable',
      // 503 is an answer of this route like 200 (not ready), so it is documented with the same shape.
      response: { 200: readiness, 503: readiness },
    },
    handler: async (_req, reply) => {
      let pending: number;
      try {
        await s.db.query('select 1');
        pending = await pendingMigrations(s.db);
      } catch {
        return reply.status(503).send({ status: 'database_unreachable', database: s.db.kind, pending_migrations: -1, storage: s.storage });
      }
      try {
        // S3: a HeadBucket, so a wrong bucket, endpoint or credentials shows here, not on the first upload.
        await s.store.check?.();
      } catch {
        return reply.status(503).send({ status: 'storage_unreachable', database: s.db.kind, pending_migrations: pending, storage: s.storage });
      }
      return reply
        .status(pending === 0 ? 200 : 503)
        .send({ status: pending === 0 ? 'ready' : 'migrations_pending', database: s.db.kind, pending_migrations: pending, storage: s.storage });
    },
  });

  app.get('/metrics', {
    config: { auth: 'public', rateLimit: false },
    schema: { tags: ['ops'], summary: 'Prometheus metrics' },
    handler: async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  });
}

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { pendingMigrations } from '../../db/migrate.js';
import type { Services } from '../../services.js';

export type OpsDeps = Pick<Services, 'db'>;

const readiness = {
  type: 'object',
  properties: { status: { type: 'string' }, database: { type: 'string' }, pending_migrations: { type: 'integer' } },
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
      summary: 'Readiness: database reachable and migrations applied',
      // 503 is an answer of this route like 200 (not ready), so it is documented with the same shape.
      response: { 200: readiness, 503: readiness },
    },
    handler: async (_req, reply) => {
      try {
        await s.db.query('select 1');
        const pending = await pendingMigrations(s.db);
        return reply
          .status(pending === 0 ? 200 : 503)
          .send({ status: pending === 0 ? 'ready' : 'migrations_pending', database: s.db.kind, pending_migrations: pending });
      } catch {
        return reply.status(503).send({ status: 'database_unreachable', database: s.db.kind, pending_migrations: -1 });
      }
    },
  });

  app.get('/metrics', {
    config: { auth: 'public', rateLimit: false },
    schema: { tags: ['ops'], summary: 'Prometheus metrics' },
    handler: async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  });
}

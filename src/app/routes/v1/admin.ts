import type { FastifyInstance } from 'fastify';
import type { Services } from '../../../services.js';
import { errorResponses, page, pageQuery, userSchema } from '../../schemas.js';

export default function adminRoutes(app: FastifyInstance, s: Services) {
  const security = [{ bearer: [] }];

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/admin/users', {
    config: { auth: 'admin' },
    schema: { tags: ['admin'], summary: 'Every account (admins only)', security, querystring: { type: 'object', additionalProperties: false, properties: pageQuery }, response: { 200: page(userSchema), ...errorResponses(401, 403) } },
    handler: async (req) => s.accounts.listUsers(req.query.limit, req.query.cursor),
  });

  app.post('/v1/admin/catalog/reload', {
    config: { auth: 'admin' },
    schema: { tags: ['admin'], summary: 'Re-read DATA_DIR/catalog.json and re-probe trainer runtimes (admins only)', security, response: { 200: { type: 'object', properties: { trainers: { type: 'integer' }, base_models: { type: 'integer' } } }, ...errorResponses(401, 403) } },
    handler: async () => {
      await s.catalog.load();
      return { trainers: s.catalog.listTrainers().length, base_models: s.catalog.listBaseModels().length };
    },
  });
}

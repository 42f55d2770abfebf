import type { FastifyInstance } from 'fastify';
import { CreatedEndpoint, CreateEndpointBody, Delivery, Endpoint, type CreateEndpointInput } from '../../../domain/webhooks/schema.js';
import { Page } from '../../../domain/schema-kit.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, noContent, pageQuerystring, security, type PageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

const tags = ['webhooks'];

const SIGNING =
  'Deliveries follow Standard Webhooks (standardwebhooks.com): a JSON body {type, timestamp, data} with the headers webhook-id, webhook-timestamp and webhook-signature (v1, HMAC-SHA256). Answer 2xx within the delivery timeout (10 s by default); anything else is retried with exponential backoff.';

export type WebhookDeps = Pick<Services, 'webhooks'>;

export default function webhookRoutes(app: FastifyInstance, s: WebhookDeps) {
  app.post<{ Body: CreateEndpointInput }>('/v1/webhooks', {
    schema: {
      tags,
      summary: 'Subscribe an endpoint to job events; the answer carries its signing secret, once',
      description: `${SIGNING} Private, loopback and link-local addresses are refused, now and on every delivery.`,
      security,
      body: CreateEndpointBody,
      response: { 201: CreatedEndpoint, ...errorResponses(400, 401, 409, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.webhooks.createEndpoint(caller(req).userId, req.body)),
  });

  app.get('/v1/webhooks', {
    schema: {
      tags,
      summary: 'Your webhook endpoints (without their secrets)',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: Endpoint } } }, ...errorResponses(400, 401) },
    },
    handler: async (req) => ({ data: await s.webhooks.listEndpoints(caller(req).userId) }),
  });

  app.get('/v1/webhooks/secret', {
    schema: {
      tags,
      summary: "The secret that signs deliveries to jobs' own webhook_url",
      description: `${SIGNING} Endpoints created with POST /v1/webhooks have their own secrets.`,
      security,
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: { type: 'object', properties: { secret: { type: 'string' } } }, ...errorResponses(400, 401) },
    },
    handler: async (req) => ({ secret: await s.webhooks.userSecret(caller(req).userId) }),
  });

  app.get<{ Querystring: PageQuery }>('/v1/webhooks/deliveries', {
    schema: {
      tags,
      summary: 'Recent deliveries, newest first, with every attempt',
      security,
      querystring: pageQuerystring,
      response: { 200: Page(Delivery), ...errorResponses(400, 401) },
    },
    handler: async (req) => s.webhooks.listDeliveries(caller(req).userId, req.query.limit, req.query.cursor),
  });

  app.delete<{ Params: { id: string } }>('/v1/webhooks/:id', {
    schema: {
      tags,
      summary: 'Remove an endpoint; messages still queued for it are dropped',
      security,
      params: idParams(),
      response: { 204: noContent, ...errorResponses(401, 404) },
    },
    handler: async (req, reply) => {
      await s.webhooks.deleteEndpoint(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });
}

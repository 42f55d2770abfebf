import type { FastifyInstance } from 'fastify';
import { JOB_EVENT_TYPES, type WebhooksService } from '../../../domain/webhooks/service.js';
import { errorResponses, freeObject, idParams, nullableString, page, pageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

const security = [{ bearer: [] }];
const tags = ['webhooks'];
const nullableDate = { type: ['string', 'null'], format: 'date-time' } as const;

const endpointSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string', enum: JOB_EVENT_TYPES } },
    created_at: { type: 'string', format: 'date-time' },
    disabled_at: nullableDate,
  },
} as const;

const createdEndpointSchema = {
  ...endpointSchema,
  properties: {
    ...endpointSchema.properties,
    secret: { type: 'string', description: 'whsec_…: verifies this endpoint\'s signatures. Shown once, at creation' },
  },
} as const;

const deliverySchema = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'The webhook-id header: the same on every retry' },
    endpoint_id: nullableString,
    job_id: nullableString,
    url: { type: 'string' },
    event_type: { type: 'string' },
    payload: freeObject,
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    attempt_count: { type: 'integer' },
    next_attempt_at: nullableDate,
    last_status: { type: ['integer', 'null'] },
    last_error: nullableString,
    created_at: { type: 'string', format: 'date-time' },
    delivered_at: nullableDate,
    attempts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          attempt: { type: 'integer' },
          status_code: { type: ['integer', 'null'] },
          error: nullableString,
          duration_ms: { type: 'integer' },
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
} as const;

const SIGNING = 'Deliveries follow Standard Webhooks (standardwebhooks.com): a JSON body {type, timestamp, data} with the headers webhook-id, webhook-timestamp and webhook-signature (v1, HMAC-SHA256). Answer 2xx within the delivery timeout (10 s by default); anything else is retried with exponential backoff.';

export default function webhookRoutes(app: FastifyInstance, s: { webhooks: WebhooksService }) {
  app.post<{ Body: { url: string; events: string[] } }>('/v1/webhooks', {
    schema: {
      tags,
      summary: 'Subscribe an endpoint to job events; the answer carries its signing secret, once',
      description: `${SIGNING} Private, loopback and link-local addresses are refused, now and on every delivery.`,
      security,
      body: {
        type: 'object',
        required: ['url', 'events'],
        additionalProperties: false,
        properties: {
          url: { type: 'string', minLength: 1, maxLength: 2048 },
          events: { type: 'array', minItems: 1, maxItems: JOB_EVENT_TYPES.length, uniqueItems: true, items: { type: 'string', enum: JOB_EVENT_TYPES } },
        },
      },
      response: { 201: createdEndpointSchema, ...errorResponses(400, 401, 409, 429) },
    },
    handler: async (req, reply) => reply.status(201).send(await s.webhooks.createEndpoint(caller(req).userId, req.body)),
  });

  app.get('/v1/webhooks', {
    schema: {
      tags,
      summary: 'Your webhook endpoints (without their secrets)',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: endpointSchema } } }, ...errorResponses(400, 401) },
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

  app.get<{ Querystring: { limit: number; cursor?: string } }>('/v1/webhooks/deliveries', {
    schema: {
      tags,
      summary: 'Recent deliveries, newest first, with every attempt',
      security,
      querystring: { type: 'object', additionalProperties: false, properties: pageQuery },
      response: { 200: page(deliverySchema), ...errorResponses(400, 401) },
    },
    handler: async (req) => s.webhooks.listDeliveries(caller(req).userId, req.query.limit, req.query.cursor),
  });

  app.delete<{ Params: { id: string } }>('/v1/webhooks/:id', {
    schema: {
      tags,
      summary: 'Remove an endpoint; messages still queued for it are dropped',
      security,
      params: idParams(),
      response: { 204: { type: 'null' }, ...errorResponses(401, 404) },
    },
    handler: async (req, reply) => {
      await s.webhooks.deleteEndpoint(caller(req).userId, req.params.id);
      return reply.status(204).send();
    },
  });
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { isFinal } from '../../../domain/jobs/states.js';
import { AppError, ForbiddenError } from '../../../errors.js';
import {
  CreateJobBody,
  Job,
  JobEvents,
  JobLogs,
  JobMetrics,
  JobPage,
  JobsFilter,
  type CreateJobInput,
  type JobsFilterInput,
} from '../../../domain/jobs/schema.js';
import type { EventHub, JobEvent } from '../../../events/hub.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, noContent, pageQuery, security, type PageQuery } from '../../schemas.js';
import { caller } from '../../types.js';

/** The hub is null only where nothing listens (it is set before the server is built). */
export type JobDeps = Pick<Services, 'jobs' | 'hub'>;

const KEEPALIVE_MS = 15_000;

function isFinalStatus(e: JobEvent): boolean {
  return e.type === 'status' && isFinal(String(e.data.status));
}

const sseFrame = (e: JobEvent) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ ...e })}\n\n`;

/**
 * Server-sent events for one job: the backlog after Last-Event-ID (or ?after), then live
 * events, a comment line every 15 s to keep proxies from closing the stream, and the end of
 * the stream right after the final status.
 */
async function streamSse(hub: EventHub, req: FastifyRequest, reply: FastifyReply, jobId: string, after: number) {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': req.id,
  });
  res.write(': connected\n\n');
  let closed = false;
  let unsubscribe: (() => void) | null = null;
  const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    unsubscribe?.();
    res.end();
  };
  req.raw.on('close', close);
  try {
    unsubscribe = await hub.subscribe(jobId, after, (events) => {
      if (closed) return;
      res.write(events.map(sseFrame).join(''));
      if (events.some(isFinalStatus)) close();
    });
    if (closed) unsubscribe();
  } catch (err) {
    req.log.error({ err }, 'event stream failed');
    close();
  }
}

export default function jobRoutes(app: FastifyInstance, s: JobDeps) {
  const isAdmin = (req: FastifyRequest) => caller(req).role === 'admin';

  app.post<{ Body: CreateJobInput; Headers: { 'idempotency-key'?: string } }>('/v1/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Start a training job (202). Send Idempotency-Key to make retries safe.',
      security,
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } } },
      body: CreateJobBody,
      response: { 202: Job, ...errorResponses(400, 401, 402, 404, 409, 422, 429) },
    },
    handler: async (req, reply) => {
      const { job, replayed } = await s.jobs.create(caller(req).userId, req.body, req.headers['idempotency-key']);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(202).send(job);
    },
  });

  app.get<{ Querystring: PageQuery & JobsFilterInput & { scope?: 'own' | 'all' } }>('/v1/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Your jobs, newest first (admins: scope=all for everyone’s)',
      security,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { ...pageQuery, ...JobsFilter.properties, scope: { type: 'string', enum: ['own', 'all'], default: 'own' } },
      },
      response: { 200: JobPage, ...errorResponses(400, 401, 403) },
    },
    handler: async (req) => {
      const { limit, cursor, scope, ...filter } = req.query;
      if (scope === 'all' && !isAdmin(req)) throw new ForbiddenError('ADMIN_ONLY', 'scope=all is for admins');
      return s.jobs.list(scope === 'all' ? null : caller(req).userId, limit, cursor, filter);
    },
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', {
    schema: {
      tags: ['jobs'],
      summary: 'A job with its status, progress (fraction, step, ETA), error or result',
      security,
      params: idParams(),
      response: { 200: Job, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.jobs.get(caller(req).userId, req.params.id, isAdmin(req)),
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', {
    schema: {
      tags: ['jobs'],
      summary: 'Cancel: a queued job at once, a running one through cancel_requested',
      security,
      params: idParams(),
      response: { 200: Job, ...errorResponses(401, 404, 409) },
    },
    handler: async (req) => s.jobs.cancel(caller(req).userId, req.params.id, isAdmin(req)),
  });

  app.delete<{ Params: { id: string } }>('/v1/jobs/:id', {
    schema: {
      tags: ['jobs'],
      summary: 'Delete a finished job and its events (its model versions stay)',
      security,
      params: idParams(),
      response: { 204: noContent, ...errorResponses(401, 404, 409) },
    },
    handler: async (req, reply) => {
      await s.jobs.delete(caller(req).userId, req.params.id, isAdmin(req));
      return reply.status(204).send();
    },
  });

  app.get<{ Params: { id: string }; Querystring: { after: number; limit: number }; Headers: { 'last-event-id'?: string } }>('/v1/jobs/:id/events', {
    schema: {
      tags: ['jobs'],
      summary: 'Job events: a JSON list, or a live stream with Accept: text/event-stream (resumable with Last-Event-ID)',
      security,
      params: idParams(),
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { after: { type: 'integer', minimum: 0, default: 0 }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
      },
      response: { 200: JobEvents, ...errorResponses(401, 404) },
    },
    handler: async (req, reply) => {
      const userId = caller(req).userId;
      if ((req.headers.accept ?? '').includes('text/event-stream')) {
        await s.jobs.row(userId, req.params.id, isAdmin(req));
        const last = Number(req.headers['last-event-id']);
        return streamSse(s.hub!, req, reply, req.params.id, Number.isInteger(last) && last >= 0 ? last : req.query.after);
      }
      return { data: await s.jobs.events(userId, req.params.id, req.query.after, req.query.limit, isAdmin(req)) };
    },
  });

  // One route, two answers: an Upgrade: websocket request gets the stream (wsHandler); a plain
  // HTTP request is authenticated, validated and looked up like any other, then told 426, so
  // the route is in /openapi.json with every answer it can give over plain HTTP.
  app.get<{ Params: { id: string }; Querystring: { after?: number } }>('/v1/jobs/:id/ws', {
    schema: {
      tags: ['jobs'],
      summary: 'The same events over a WebSocket (one JSON message per event)',
      description:
        'Connect with Upgrade: websocket (101 Switching Protocols). A plain HTTP request to a job you can see answers 426 UPGRADE_REQUIRED; unknown jobs and other owners’ answer 404.',
      security,
      params: idParams(),
      querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0 } } },
      response: { 101: { description: 'Switching Protocols: the event stream', type: 'null' }, ...errorResponses(426) },
    },
    handler: async (req: FastifyRequest<{ Params: { id: string } }>) => {
      await s.jobs.row(caller(req).userId, req.params.id, isAdmin(req));
      throw new AppError('UPGRADE_REQUIRED', 'this is a WebSocket endpoint: connect with Upgrade: websocket', { status: 426 });
    },
    wsHandler: async (socket: WebSocket, req: FastifyRequest<{ Params: { id: string }; Querystring: { after?: number } }>) => {
      let unsubscribe: (() => void) | null = null;
      socket.on('close', () => unsubscribe?.());
      try {
        await s.jobs.row(caller(req).userId, req.params.id, isAdmin(req));
        unsubscribe = await s.hub!.subscribe(req.params.id, req.query.after ?? 0, (events) => {
          for (const e of events) socket.send(JSON.stringify(e));
          if (events.some(isFinalStatus)) socket.close(1000, 'job finished');
        });
        if (socket.readyState !== socket.OPEN) unsubscribe();
      } catch (err) {
        socket.send(JSON.stringify({ error: { code: (err as { code?: string }).code ?? 'INTERNAL', message: (err as Error).message } }));
        socket.close(1008, 'not allowed');
      }
    },
  } as never);

  app.get<{ Params: { id: string }; Querystring: { tail: number; since?: string } }>('/v1/jobs/:id/logs', {
    schema: {
      tags: ['jobs'],
      summary: 'The newest log lines of a job (trainer logs, stdout and stderr)',
      security,
      params: idParams(),
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { tail: { type: 'integer', minimum: 1, maximum: 10_000, default: 200 }, since: { type: 'string', format: 'date-time' } },
      },
      response: { 200: JobLogs, ...errorResponses(400, 401, 404) },
    },
    handler: async (req) => ({
      data: await s.jobs.logs(caller(req).userId, req.params.id, req.query.tail, req.query.since ? new Date(req.query.since) : null, isAdmin(req)),
    }),
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/metrics', {
    schema: {
      tags: ['jobs'],
      summary: 'One time series per metric: [{step, epoch, value, at}]',
      security,
      params: idParams(),
      response: { 200: JobMetrics, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.jobs.metrics(caller(req).userId, req.params.id, isAdmin(req)),
  });
}

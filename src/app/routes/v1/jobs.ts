import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { MAX_EVENT_SEQ, parseLastEventId } from '../../../domain/jobs/events.js';
import { isFinal } from '../../../domain/jobs/states.js';
import { AppError, ForbiddenError } from '../../../errors.js';
import {
  CreateJobBody,
  Job,
  JobEvents,
  JobQuote,
  JobLogs,
  JobMetrics,
  JobPage,
  JobsFilter,
  type CreateJobInput,
  type JobsFilterInput,
} from '../../../domain/jobs/schema.js';
import type { EventHub, JobEvent, Subscription } from '../../../events/hub.js';
import type { Services } from '../../../services.js';
import { errorResponses, idParams, noContent, pageQuery, security, type PageQuery } from '../../schemas.js';
import { bearerCredentials, closeCodeFor, streamAccess, type LiveAccess } from '../../stream-access.js';
import { caller } from '../../types.js';
import jobSampleRoutes from './job-samples.js';

/** The hub is null only where nothing listens (it is set before the server is built). */
export type JobDeps = Pick<Services, 'jobs' | 'hub' | 'samples' | 'config' | 'accounts'>;

const KEEPALIVE_MS = 15_000;
/**
 * A stream whose client reads slower than the job writes is cut once this much waits in its
 * buffer: the client resumes from the last event it did receive (Last-Event-ID, ?after), and
 * the server never holds an unbounded backlog for one connection.
 */
const MAX_BUFFERED_BYTES = 1 << 20;
/** EventSource's reconnection delay after a paged replay (the `retry` field). */
const RESUME_RETRY_MS = 1000;

function isFinalStatus(e: JobEvent): boolean {
  return e.type === 'status' && isFinal(String(e.data.status));
}

const sseFrame = (e: JobEvent) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ ...e })}\n\n`;

/** What a paged replay says before it ends: where to resume and why the stream stopped. */
const moreMessage = (sub: Subscription, replayMax: number) => ({
  type: 'more',
  last_event_id: sub.lastSeq,
  message: `a connection replays at most ${replayMax} past events; reconnect with Last-Event-ID (or ?after=${sub.lastSeq}) for the next page`,
});

interface StreamStart {
  jobId: string;
  after: number;
  /** The job had already ended when the stream was asked for: close once the backlog is sent. */
  finished: boolean;
  /** Gives back the caller's stream slot; idempotent. */
  release: () => void;
  /** Ends the stream when its caller loses access to the job while it is open. */
  access: LiveAccess;
}

/**
 * Server-sent events for one job: the backlog after Last-Event-ID (or ?after), at most a page
 * of it (then `event: more` and the end: EventSource reconnects with Last-Event-ID by itself),
 * then live events, a comment line every 15 s to keep proxies from closing the stream, and
 * the end of the stream right after the final status.
 */
async function streamSse(hub: EventHub, req: FastifyRequest, reply: FastifyReply, st: StreamStart) {
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
  let sub: Subscription | null = null;
  const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
  const close = (drop = false) => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    sub?.unsubscribe();
    st.release();
    if (drop) res.destroy();
    else res.end();
  };
  res.on('close', () => close());
  // Access lost while open (a revoked key, a disabled user, a job no longer theirs): the reason
  // as the stream's last event; EventSource's reconnection then gets the 401 or 404 and stops.
  st.access.onEnd((err) => {
    if (closed) return;
    res.write(`event: denied\ndata: ${JSON.stringify({ status: err.status, error: { code: err.code, message: err.message } })}\n\n`);
    close();
  });
  try {
    sub = await hub.subscribe(st.jobId, st.after, (events) => {
      if (closed) return;
      res.write(events.map(sseFrame).join(''));
      if (res.writableLength > MAX_BUFFERED_BYTES) close(true);
      else if (events.some(isFinalStatus)) close();
    });
    if (closed) sub.unsubscribe();
    else if (!sub.live) {
      res.write(`retry: ${RESUME_RETRY_MS}\nevent: more\ndata: ${JSON.stringify(moreMessage(sub, hub.limits.replayMax))}\n\n`);
      close();
    } else if (st.finished) close();
  } catch (err) {
    req.log.error({ err }, 'event stream failed');
    close();
  }
}

/** What the WebSocket route's preHandler hands its handler (the upgrade happens in between). */
const wsStarts = new WeakMap<FastifyRequest, StreamStart>();

export default function jobRoutes(app: FastifyInstance, s: JobDeps) {
  const isAdmin = (req: FastifyRequest) => caller(req).role === 'admin';
  jobSampleRoutes(app, s);

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

  app.post<{ Body: CreateJobInput }>('/v1/jobs/quote', {
    schema: {
      tags: ['jobs'],
      summary: 'The price of a job without starting it: the same body and checks as POST /v1/jobs, nothing created or held',
      security,
      body: CreateJobBody,
      response: { 200: JobQuote, ...errorResponses(400, 401, 404, 409, 422) },
    },
    handler: async (req) => s.jobs.quote(caller(req).userId, req.body),
  });

  app.get<{ Querystring: PageQuery & JobsFilterInput & { scope?: 'own' | 'all' } }>('/v1/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'Your jobs, newest first (admins: scope=all for everyone’s); filter by status, trainer or output model_name',
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
      summary:
        'Job events: a JSON list, or a live stream with Accept: text/event-stream (resumable with Last-Event-ID; a page of past events per connection; 204 when a finished job has nothing after it)',
      security,
      params: idParams(),
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          after: { type: 'integer', minimum: 0, maximum: MAX_EVENT_SEQ, default: 0 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        },
      },
      response: { 200: JobEvents, 204: noContent, ...errorResponses(400, 401, 404, 429) },
    },
    handler: async (req, reply) => {
      const userId = caller(req).userId;
      if ((req.headers.accept ?? '').includes('text/event-stream')) {
        const last = parseLastEventId(req.headers['last-event-id']);
        const job = await s.jobs.row(userId, req.params.id, isAdmin(req));
        const after = last ?? req.query.after;
        const finished = isFinal(job.status);
        // A finished job with nothing after the cursor: 204 tells EventSource to stop reconnecting.
        if (finished && (await s.jobs.eventsSince(job.id, after, 1)).length === 0) return reply.status(204).send();
        const access = streamAccess(req, bearerCredentials(req), s.accounts, (p) => s.jobs.row(p.userId, job.id, p.role === 'admin'));
        const release = s.hub!.slots.acquire(userId, access);
        return streamSse(s.hub!, req, reply, { jobId: job.id, after, finished, release, access });
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
      summary: 'The same events over a WebSocket (one JSON message per event; a page of past events per connection, then close 4000 to resume)',
      description:
        'Connect with Upgrade: websocket (101 Switching Protocols). A plain HTTP request to a job you can see answers 426 UPGRADE_REQUIRED; unknown jobs and other owners’ answer 404; over the per-user stream limit, 429.',
      security,
      params: idParams(),
      querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0, maximum: MAX_EVENT_SEQ } } },
      response: { 101: { description: 'Switching Protocols: the event stream', type: 'null' }, ...errorResponses(400, 401, 404, 426, 429) },
    },
    // Before the upgrade, so another user's job is a plain 404 and a user over the stream limit
    // a plain 429. The slot is also given back if the upgrade never completes (socket closed).
    preHandler: async (req: FastifyRequest<{ Params: { id: string }; Querystring: { after?: number } }>) => {
      const userId = caller(req).userId;
      const job = await s.jobs.row(userId, req.params.id, isAdmin(req));
      // A plain GET is answered 426 by the handler below: only an upgrade takes a slot.
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return;
      const access = streamAccess(req, bearerCredentials(req), s.accounts, (p) => s.jobs.row(p.userId, job.id, p.role === 'admin'));
      const release = s.hub!.slots.acquire(userId, access);
      req.raw.socket.once('close', release);
      wsStarts.set(req, { jobId: job.id, after: req.query.after ?? 0, finished: isFinal(job.status), release, access });
    },
    handler: async () => {
      throw new AppError('UPGRADE_REQUIRED', 'this is a WebSocket endpoint: connect with Upgrade: websocket', { status: 426 });
    },
    wsHandler: async (socket: WebSocket, req: FastifyRequest<{ Params: { id: string }; Querystring: { after?: number } }>) => {
      const st = wsStarts.get(req)!;
      let sub: Subscription | null = null;
      socket.on('close', () => {
        sub?.unsubscribe();
        st.release();
      });
      st.access.onEnd((err) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(JSON.stringify({ error: { code: err.code, message: err.message } }));
        socket.close(closeCodeFor(err), err.code);
      });
      try {
        sub = await s.hub!.subscribe(st.jobId, st.after, (events) => {
          for (const e of events) socket.send(JSON.stringify(e));
          // A reader this far behind is cut; it resumes with ?after= its last event.
          if (socket.bufferedAmount > MAX_BUFFERED_BYTES) socket.terminate();
          else if (events.some(isFinalStatus)) socket.close(1000, 'job finished');
        });
        if (socket.readyState !== socket.OPEN) sub.unsubscribe();
        else if (!sub.live) {
          socket.send(JSON.stringify(moreMessage(sub, s.hub!.limits.replayMax)));
          socket.close(4000, 'more events: reconnect with ?after');
        } else if (st.finished) socket.close(1000, 'job finished');
      } catch (err) {
        req.log.error({ err }, 'event stream failed');
        socket.send(JSON.stringify({ error: { code: 'INTERNAL', message: 'the event stream failed' } }));
        socket.close(1011, 'event stream failed');
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
      summary: 'One time series per metric: [{step, epoch, value, at}], from at most 5,000 reports (a longer run is evenly thinned, its last report kept)',
      security,
      params: idParams(),
      response: { 200: JobMetrics, ...errorResponses(401, 404) },
    },
    handler: async (req) => s.jobs.metrics(caller(req).userId, req.params.id, isAdmin(req)),
  });
}

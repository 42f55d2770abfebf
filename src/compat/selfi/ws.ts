import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError, NotFoundError } from '../../errors.js';
import { baseUrl } from '../../app/routes/v1/files.js';
import { closeCodeFor, streamAccess, type LiveAccess } from '../../app/stream-access.js';
import { caller } from '../../app/types.js';
import type { Subscription } from '../../events/hub.js';
import type { Services } from '../../services.js';
import * as q from './queries.js';
import { errors, ModelParams } from './schemas.js';
import type { SelfiService } from './service.js';

type Req = FastifyRequest<{ Params: { modelId: string } }>;
interface Start {
  jobId: string | null;
  release: () => void;
  access: LiveAccess;
}
const starts = new WeakMap<FastifyRequest, Start>();

/**
 * WS /training/{modelId}/ws: the job's live events as the document's TrainingUpdate messages.
 * On connect and on every batch of job events the LoRA's state is read afresh and sent: a
 * `progress` while pending or training (progress 0-100, the newest sample as previewImageUrl),
 * then `completed` or `failed`, after which the server closes (1000).
 */
export function trainingSocket(app: FastifyInstance, s: Services, svc: SelfiService): void {
  app.get<{ Params: { modelId: string } }>('/training/:modelId/ws', {
    schema: {
      summary: 'Training updates over a WebSocket: {type: progress|completed|failed, data: {progress, error, previewImageUrl}}',
      description: 'Connect with Upgrade: websocket. A plain HTTP request to your LoRA answers 426; another user’s or an unknown id, 404.',
      params: ModelParams,
      response: { 101: { description: 'Switching Protocols: the update stream', type: 'null' }, ...errors(400, 401, 404, 426, 429) },
    },
    preHandler: async (req: Req) => {
      const owner = caller(req).userId;
      const lora = await q.loraOf(s.db, owner, req.params.modelId);
      if (!lora) throw new NotFoundError('model', req.params.modelId);
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return;
      // Closed (4401) when the caller loses access while it is open: a revoked key, a disabled or
      // deleted user.
      const creds = { token: String(req.headers['x-auth-token']), onBehalfOf: String(req.headers['x-user-id']) };
      const access = streamAccess(req, creds, s.accounts, async (p) => {
        if (!(await q.loraOf(s.db, p.userId, req.params.modelId))) throw new NotFoundError('model', req.params.modelId);
      });
      const release = s.hub!.slots.acquire(owner, access);
      req.raw.socket.once('close', release);
      starts.set(req, { jobId: lora.job_id, release, access });
    },
    handler: async () => {
      throw new AppError('upgrade_required', 'this is a WebSocket endpoint: connect with Upgrade: websocket', { status: 426 });
    },
    wsHandler: async (socket: WebSocket, req: Req) => {
      const st = starts.get(req)!;
      const owner = caller(req).userId;
      const base = baseUrl(s, req);
      let sub: Subscription | null = null;
      let done = false;
      socket.on('close', () => {
        sub?.unsubscribe();
        st.release();
      });
      st.access.onEnd((err) => {
        done = true;
        // In the document's vocabulary, like its HTTP errors.
        if (socket.readyState === socket.OPEN) socket.close(closeCodeFor(err), err.status === 401 ? 'unauthorized' : 'not_found');
      });
      const update = async () => {
        if (done) return;
        const now = await svc.status(owner, req.params.modelId, base);
        const data = {
          progress: now.progress,
          ...(now.error ? { error: now.error } : {}),
          ...(now.previewImageUrl ? { previewImageUrl: now.previewImageUrl } : {}),
        };
        const type = now.status === 'COMPLETED' ? 'completed' : now.status === 'FAILED' ? 'failed' : 'progress';
        if (socket.readyState !== socket.OPEN) return;
        socket.send(JSON.stringify({ type, data }));
        if (type !== 'progress') {
          done = true;
          socket.close(1000, `training ${type}`);
        }
      };
      // Updates are sent one after another, in the order the events came.
      let chain = Promise.resolve();
      const queue = () => {
        chain = chain.then(update).catch((err: unknown) => {
          req.log.error({ err }, 'selfi training stream failed');
          socket.close(1011, 'stream failed');
        });
      };
      try {
        if (st.jobId === null) return void queue();
        // Only new events matter (each update reads the whole state): resume past a long backlog.
        let after = 0;
        for (;;) {
          sub = await s.hub!.subscribe(st.jobId, after, () => queue());
          if (socket.readyState !== socket.OPEN) {
            // Closed while subscribing: its close handler ran before there was a subscription to end.
            sub.unsubscribe();
            return;
          }
          if (sub.live) break;
          after = sub.lastSeq;
          sub.unsubscribe();
        }
        queue();
      } catch (err) {
        req.log.error({ err }, 'selfi training stream failed');
        socket.close(1011, 'stream failed');
      }
    },
  } as never);
}

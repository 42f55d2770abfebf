/**
 * SSE subscribers, run as a child process (bench/lib/child.ts): opens `count` streams of
 * GET /v1/jobs/{id}/events (Accept: text/event-stream) over node:http, a connection each, and
 * for every `metrics` event records when it arrived against the time the trainer wrote it
 * (values.t) and the time its row was written (created_at). Ends when every stream has been
 * closed by the server (it closes after the job's final status) or at `timeoutMs`.
 */
import http from 'node:http';
import { nowMs } from './stats.js';

export interface SubscribeRequest {
  kind: 'start';
  url: string;
  token: string;
  count: number;
  timeoutMs: number;
}
export interface SubscribeResult {
  kind: 'result';
  /** Per delivery: trainer wrote it → this subscriber parsed it (ms). */
  total: number[];
  /** Per delivery: row created_at (db clock, ms precision) → parsed. */
  fromDb: number[];
  /** Per event (first subscriber only): trainer wrote it → row created_at. */
  toDb: number[];
  streams: number;
  completed: number;
  errors: string[];
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/** Resolves once the response headers arrived, with a promise of the stream's end (boxed: a promise would be flattened). */
function open(r: SubscribeRequest, index: number, out: SubscribeResult): Promise<{ ended: Promise<void> }> {
  const u = new URL(r.url);
  return new Promise((resolveOpen, rejectOpen) => {
    const req = http.get(
      { agent, host: u.hostname, port: u.port, path: u.pathname, headers: { authorization: `Bearer ${r.token}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          rejectOpen(new Error(`HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        const ended = new Promise<void>((resolveEnd) => {
          res.on('data', (chunk: string) => {
            const at = nowMs();
            buf += chunk;
            let cut: number;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
              const frame = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              if (!frame.startsWith('id:')) continue; // comments: connected, keep-alive
              const ev = /\nevent: (\S+)/.exec(frame)?.[1];
              if (ev !== 'metrics') continue;
              const data = JSON.parse(frame.slice(frame.indexOf('\ndata: ') + 7)) as { created_at: string; data: { values: { t: number } } };
              const t = data.data.values.t;
              const created = Date.parse(data.created_at);
              out.total.push(at - t);
              out.fromDb.push(at - created);
              if (index === 0) out.toDb.push(created - t);
            }
          });
          res.on('end', () => {
            out.completed++;
            resolveEnd();
          });
          res.on('error', (e) => {
            out.errors.push(e.message);
            resolveEnd();
          });
        });
        resolveOpen({ ended });
      },
    );
    req.on('error', (e) => rejectOpen(e));
  });
}

async function run(r: SubscribeRequest): Promise<SubscribeResult> {
  const out: SubscribeResult = { kind: 'result', total: [], fromDb: [], toDb: [], streams: 0, completed: 0, errors: [] };
  const ends: Promise<void>[] = [];
  // In batches: a thousand simultaneous connects would overflow the listen backlog.
  for (let i = 0; i < r.count; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, r.count - i) }, (_, k) => open(r, i + k, out)));
    ends.push(...batch.map((b) => b.ended));
    out.streams += batch.length;
  }
  process.send!({ kind: 'connected', streams: out.streams });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(ends), new Promise<void>((res) => (timer = setTimeout(res, r.timeoutMs)))]);
  clearTimeout(timer);
  const round = (xs: number[]) => xs.map((x) => Math.round(x * 100) / 100);
  return { ...out, total: round(out.total), fromDb: round(out.fromDb), toDb: round(out.toDb) };
}

process.on('message', (m: SubscribeRequest) => {
  if (m.kind !== 'start') return;
  run(m).then(
    (res) => process.send!(res, () => process.exit(0)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});
process.send!({ kind: 'ready' });

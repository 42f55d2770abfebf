/**
 * HTTP load generator, run as a child process (bench/lib/child.ts): `connections` keep-alive
 * connections (node:http Agent, keepAlive, maxSockets = connections), each sending the next
 * GET as soon as the previous response has been read (closed loop). Only requests completed
 * inside the measured window count (throughput = completions in the window); the warm-up
 * before it opens the connections and warms the JIT on both sides.
 */
import http from 'node:http';
import { percentile } from './stats.js';

export interface LoadRequest {
  kind: 'run';
  url: string;
  headers: Record<string, string>;
  connections: number;
  warmupMs: number;
  durationMs: number;
}
export interface LoadResult {
  kind: 'result';
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
  rps: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  bytes: number;
}

async function run(r: LoadRequest): Promise<LoadResult> {
  const u = new URL(r.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: r.connections });
  const lat = new Float64Array(4_000_000);
  let n = 0;
  let errors = 0;
  let bytes = 0;
  const statuses: Record<string, number> = {};
  const t0 = performance.now();
  const start = t0 + r.warmupMs;
  const end = start + r.durationMs;

  const once = () =>
    new Promise<number>((resolve) => {
      const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET', headers: r.headers }, (res) => {
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(-1));
      });
      req.on('error', () => resolve(-1));
      req.end();
    });

  const loop = async () => {
    for (;;) {
      const a = performance.now();
      if (a >= end) return;
      const status = await once();
      const b = performance.now();
      if (b >= start && b <= end) {
        if (status < 0) errors++;
        else {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (n < lat.length) lat[n++] = b - a;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: r.connections }, loop));
  agent.destroy();
  const sorted = Array.from(lat.subarray(0, n).sort());
  let sum = 0;
  for (const x of sorted) sum += x;
  const seconds = r.durationMs / 1000;
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    kind: 'result',
    requests,
    errors,
    statuses,
    seconds,
    rps: requests / seconds,
    latencyMs: {
      mean: sum / Math.max(1, n),
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
    },
    bytes,
  };
}

process.on('message', (m: LoadRequest) => {
  if (m.kind !== 'run') return;
  run(m).then(
    (res) => process.send!(res, () => process.exit(0)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});
process.send!({ kind: 'ready' });

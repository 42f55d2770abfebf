// Sweep cap: POST /v1/sweeps with a grid of KEYS (6) hyperparameters × VALUES (50) values each
// (15.6 billion points; 200 jobs is the cap) must be refused with 400 SWEEP_TOO_LARGE from the
// list lengths alone, without expanding the grid. Measured: the 400's latency, and the latency
// of GET /healthz sent at the same instant (does the refusal hold up the event loop?), ROUNDS
// (50) times after WARMUP (5) discarded rounds, plus the server's heap before and after.
// The report for the old code: 4 keys × 50 values took 10 s, /healthz 10 s, +440 MB.
// For scale, the same for a 200-job sweep that is accepted (grid 50 × 4, the cap exactly).
//
// Run: npx tsx bench/sweep-cap.ts   (KEYS, VALUES, ROUNDS to override); PGlite on disk.
import { api, benchTrainer, startBenchApp } from './lib/app.js';
import { ms, nowMs, printTable, summarize } from './lib/stats.js';

const KEYS = Number(process.env.KEYS ?? 6);
const VALUES = Number(process.env.VALUES ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 50);
const WARMUP = 5;
const TARGET_MS = 50;

async function timed(url: string, init: RequestInit): Promise<{ ms: number; status: number; body: string }> {
  const t0 = nowMs();
  const res = await fetch(url, init);
  const body = await res.text();
  return { ms: nowMs() - t0, status: res.status, body };
}

async function main() {
  const app = await startBenchApp('pglite', {
    env: { WORKER_IN_PROCESS: 'false', JOBS_MAX_QUEUED_PER_USER: '100000' },
    catalog: { trainers: [benchTrainer('idle', [process.execPath, '-e', '0'])] },
  });
  try {
    const c = api(app.url);
    const u = await c.user('sweeper');
    const ds = await c.csvDataset(u.token);
    const grid = Object.fromEntries(Array.from({ length: KEYS }, (_, k) => [`p${k}`, Array.from({ length: VALUES }, (_, v) => v)]));
    const body = JSON.stringify({ trainer: 'idle', dataset_id: ds, grid, output: { model_name: 'cap' } });
    const init: RequestInit = { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' }, body };
    const heap0 = process.memoryUsage().heapUsed;
    const refused: number[] = [];
    const health: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const [s, h] = await Promise.all([timed(`${app.url}/v1/sweeps`, init), timed(`${app.url}/healthz`, {})]);
      if (s.status !== 400 || !s.body.includes('SWEEP_TOO_LARGE')) throw new Error(`expected 400 SWEEP_TOO_LARGE, got ${s.status} ${s.body}`);
      if (i < WARMUP) continue;
      refused.push(s.ms);
      health.push(h.ms);
    }
    const heap1 = process.memoryUsage().heapUsed;

    // For scale: an accepted sweep of exactly the cap (200 jobs, validated, priced, inserted with holds).
    const okGrid = { a: Array.from({ length: 50 }, (_, v) => v), b: [1, 2, 3, 4] };
    const accepted = await Promise.all([
      timed(`${app.url}/v1/sweeps`, { ...init, body: JSON.stringify({ trainer: 'idle', dataset_id: ds, grid: okGrid, output: { model_name: 'cap' } }) }),
      timed(`${app.url}/healthz`, {}),
    ]);
    if (accepted[0].status !== 201) throw new Error(`200-job sweep: ${accepted[0].status} ${accepted[0].body}`);

    const r = summarize(refused);
    const h = summarize(health);
    console.log(`\nPOST /v1/sweeps, ${KEYS} keys × ${VALUES} values (${ROUNDS} rounds after ${WARMUP} warm-up), PGlite`);
    printTable(
      ['request', 'p50', 'p99', 'max'],
      [
        [`400 SWEEP_TOO_LARGE (${KEYS}×${VALUES} grid)`, ms(r.p50), ms(r.p99), ms(r.max)],
        ['GET /healthz sent at the same time', ms(h.p50), ms(h.p99), ms(h.max)],
        ['201, 200-job sweep (50 × 4), once', ms(accepted[0].ms), '', ''],
        ['GET /healthz during the 201', ms(accepted[1].ms), '', ''],
      ],
    );
    console.log(`heap: ${(heap0 / 2 ** 20).toFixed(1)} MB before the refusals, ${(heap1 / 2 ** 20).toFixed(1)} MB after`);
    console.log(`target: 400 under ${TARGET_MS} ms → ${r.max < TARGET_MS ? 'met' : 'NOT met'} (max ${ms(r.max)})`);
  } finally {
    await app.close();
  }
}

await main();

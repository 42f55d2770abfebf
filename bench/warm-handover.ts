// Diagnostic for issue #15 (not an npm script): the warm hand-over alone, no database. The
// pickup fixture is started RUNS times through WarmPool.start() (a spare waiting, sandboxed as
// the worker would) and through the cold path (Sandbox.confine + startTrainer), interleaved;
// timed from the call to the fixture's first statement. ADMIT=0 skips the sandbox.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startTrainer } from '../src/executors/local.js';
import { Sandbox } from '../src/executors/sandbox.js';
import { WarmPool } from '../src/executors/warm-pool.js';
import { FIXTURES, exchangeDir, tempDir } from './lib/app.js';
import { ms, nowMs, printTable, sleep, summarize } from './lib/stats.js';

const RUNS = Number(process.env.RUNS ?? 40);
const TRAINER = path.join(FIXTURES, 'pickup-trainer.mjs');
const tmp = tempDir('handover');
const workDir = path.join(tmp.dir, 'work');
mkdirSync(workDir, { recursive: true });
const exchange = exchangeDir('stamps');
const stamps = exchange.file('stamps.jsonl');
const sandbox =
  process.env.ADMIT === '0'
    ? undefined
    : new Sandbox({ mode: 'auto', uid: 61184, uidCount: 64, cpuSeconds: 0 }, { dataDir: tmp.dir, workDir, readable: [] }, () => {});
const pool = new WarmPool({ workDir, sandbox, warn: (m) => console.error(m) });
const warm = { node: [process.execPath], module: TRAINER, args: [stamps], preload: [] };
const limits = { memoryMb: 64, network: false, readable: [] };
const firstOf = (job: string) =>
  readFileSync(stamps, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { job: string; first: number })
    .find((s) => s.job === job)!.first;

async function once(i: number, mode: 'warm' | 'cold'): Promise<number> {
  const dir = path.join(workDir, `${mode}-${i}`);
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const specPath = path.join(dir, 'job.json');
  writeFileSync(specPath, JSON.stringify({ job_id: `${mode}-${i}` }));
  const opts = { command: [process.execPath, TRAINER, stamps], specPath, cwd: dir, onEvent: () => {}, onOutput: () => {} };
  const t0 = nowMs();
  let t = mode === 'warm' ? await pool.start(warm, {}, limits, opts) : null;
  if (mode === 'warm' && !t) throw new Error('no spare');
  let release = () => {};
  if (!t) {
    const c = sandbox ? await sandbox.confine(opts.command, dir, limits) : null;
    release = () => c?.release();
    t = await startTrainer({ ...opts, command: c?.argv ?? opts.command });
  }
  await t.done;
  release();
  return firstOf(`${mode}-${i}`) - t0;
}

const xs: Record<'warm' | 'cold', number[]> = { warm: [], cold: [] };
// The first call leaves a spare behind; then a pause so each warm call finds one booted.
await once(-1, 'cold');
await pool.start(warm, {}, limits, { command: [], specPath: '/nonexistent', cwd: workDir, onEvent: () => {}, onOutput: () => {} });
for (let i = 0; i < RUNS; i++) {
  for (const mode of ['warm', 'cold'] as const) {
    await sleep(300);
    xs[mode].push(await once(i, mode));
  }
}
await pool.close();
tmp.remove();
exchange.remove();
printTable(
  ['path', 'runs', 'p50', 'p95', 'p99', 'max'],
  (['warm', 'cold'] as const).map((m) => {
    const s = summarize(xs[m]);
    return [
      m === 'warm' ? 'WarmPool.start() → first statement' : 'Sandbox.confine + startTrainer() → first statement',
      s.n,
      ms(s.p50),
      ms(s.p95),
      ms(s.p99),
      ms(s.max),
    ];
  }),
);

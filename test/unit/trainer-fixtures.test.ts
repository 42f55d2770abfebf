import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobSpec, ofType, startTrainer, type StartOptions } from '../helpers/trainer-run.js';

// The misbehaving trainers the worker tests will run against; these tests pin down that each
// one misbehaves exactly as advertised (and fast), so a worker test failing means the worker.

let dir: string;
let seq = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trainer-fixtures-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeSpec(
  hyperparameters: Record<string, unknown> = {},
  resumeFrom: string | null = null,
): Promise<{ spec: string; out: string; ckpt: string }> {
  const id = `job_${++seq}`;
  const out = path.join(dir, id, 'out');
  const ckpt = path.join(dir, 'ckpt'); // shared across attempts, as on a worker
  const spec = path.join(dir, `${id}.json`);
  const body = jobSpec({
    job_id: id,
    trainer: 'fixture',
    hyperparameters,
    dataset: { kind: 'tabular-csv', files: [] },
    output_dir: out,
    checkpoint_dir: ckpt,
    resume_from: resumeFrom,
  });
  await writeFile(spec, JSON.stringify(body));
  return { spec, out, ckpt };
}

/** A fixture trainer, started the one way tests start trainers. */
const start = (fixture: string, spec: string, opts: StartOptions = {}) =>
  startTrainer([process.execPath, path.join('test/fixtures/trainers', fixture)], spec, opts);

const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;
/** Only for negatives ("still running after N ms"), where there is no state to wait on. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fixture trainers', () => {
  it('crash.mjs: progress, an error log, stderr output, exit 3', async () => {
    const { spec } = await writeSpec();
    const run = await start('crash.mjs', spec).done;
    expect(run.code).toBe(3);
    expect(ofType(run, 'progress').length).toBeGreaterThan(0);
    expect(ofType(run, 'log')).toContainEqual({ type: 'log', level: 'error', message: 'simulated crash: out of memory' });
    expect(run.stderr).toContain('simulated crash');
    expect(ofType(run, 'result')).toEqual([]);
  });

  it('hang.mjs: one progress event, then nothing until SIGTERM, then exit 143', async () => {
    const { spec } = await writeSpec();
    let firstProgress!: () => void;
    const progressed = new Promise<void>((r) => (firstProgress = r));
    const { child, done } = start('hang.mjs', spec, { onEvent: (e) => e.type === 'progress' && firstProgress() });
    await progressed;
    // A negative: "nothing until SIGTERM" has no state to wait on, so give it time to misbehave.
    await sleep(300);
    expect(alive(child)).toBe(true);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const run = await done;
    expect(run.code).toBe(143);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(run.events).toEqual([{ type: 'progress', step: 1, total_steps: 100 }]);
  });

  it('ignore-sigterm.mjs: survives SIGTERM, only SIGKILL ends it', async () => {
    const { spec } = await writeSpec();
    let firstProgress!: () => void;
    const progressed = new Promise<void>((r) => (firstProgress = r));
    const { child, done } = start('ignore-sigterm.mjs', spec, { onEvent: (e) => e.type === 'progress' && firstProgress() });
    await progressed;
    child.kill('SIGTERM');
    // A negative: still alive a while after SIGTERM. A trainer that obeyed would be gone well within it.
    await sleep(400);
    expect(alive(child)).toBe(true);
    child.kill('SIGKILL');
    const run = await done;
    expect(run.signal).toBe('SIGKILL');
    expect(ofType(run, 'progress')).toHaveLength(1);
  });

  it('flood.mjs: ~20 MB of junk around a few valid events, still exits 0 with a result', async () => {
    const { spec } = await writeSpec();
    const t0 = Date.now();
    const run = await start('flood.mjs', spec).done;
    expect(run.code).toBe(0);
    expect(run.stdoutBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(run.junkLines).toBeGreaterThan(10_000);
    // Lookalikes (non-numeric metrics, events after junk on the same line) must not count.
    expect(ofType(run, 'result')).toEqual([{ type: 'result', metrics: { score: 1, junk_bytes: expect.any(Number) } }]);
    expect(ofType(run, 'progress').length).toBeGreaterThanOrEqual(3);
    expect(run.events.at(-1)?.type).toBe('result');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('huge-artifact.mjs: streams HUGE_ARTIFACT_BYTES into output_dir and names it', async () => {
    const { spec, out } = await writeSpec();
    const bytes = 3 * 1024 * 1024 + 17; // not a multiple of the write chunk
    const run = await start('huge-artifact.mjs', spec, { env: { HUGE_ARTIFACT_BYTES: String(bytes) } }).done;
    expect(run.code).toBe(0);
    const [artifact] = ofType(run, 'artifact');
    expect(artifact).toEqual({ type: 'artifact', name: 'huge', path: path.join(out, 'huge.bin'), format: 'binary' });
    expect(statSync(artifact!.path).size).toBe(bytes);
    expect(ofType(run, 'result')).toEqual([{ type: 'result', metrics: { bytes } }]);
  });

  it('echo.mjs: progress and metrics per step, model.json, artifact, result', async () => {
    const { spec, out } = await writeSpec({ steps: 4, sleep_ms: 1 });
    const run = await start('echo.mjs', spec).done;
    expect(run.code).toBe(0);
    expect(ofType(run, 'progress').map((e) => e.step)).toEqual([1, 2, 3, 4]);
    expect(ofType(run, 'metrics').map((e) => e.values.score)).toEqual([1, 2, 3, 4]);
    const jobId = path.basename(spec, '.json');
    expect(JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8'))).toEqual({ echo: jobId });
    expect(ofType(run, 'artifact')).toEqual([{ type: 'artifact', name: 'model', path: path.join(out, 'model.json'), format: 'json' }]);
    expect(ofType(run, 'result')).toEqual([{ type: 'result', metrics: { score: 4 } }]);
  });

  it('echo.mjs: defaults to 5 steps', async () => {
    const { spec } = await writeSpec();
    const run = await start('echo.mjs', spec).done;
    expect(run.code).toBe(0);
    expect(ofType(run, 'result')).toEqual([{ type: 'result', metrics: { score: 5 } }]);
  });

  it('echo.mjs: SIGTERM writes a checkpoint and exits 143; resume_from continues from that step', async () => {
    const hp = { steps: 30, sleep_ms: 15 };
    const first = await writeSpec(hp);
    const { done } = start('echo.mjs', first.spec, { onEvent: (e, child) => e.type === 'progress' && e.step === 3 && child.kill('SIGTERM') });
    const stopped = await done;
    expect(stopped.code).toBe(143);
    const [ckpt] = ofType(stopped, 'checkpoint');
    expect(ckpt!.step).toBeGreaterThanOrEqual(3);
    expect(ckpt!.step).toBeLessThan(30);
    expect(path.dirname(ckpt!.path)).toBe(first.ckpt);
    expect(JSON.parse(readFileSync(ckpt!.path, 'utf8'))).toEqual({ step: ckpt!.step });
    expect(existsSync(path.join(first.out, 'model.json'))).toBe(false);

    const second = await writeSpec(hp, ckpt!.path);
    const resumed = await start('echo.mjs', second.spec).done;
    expect(resumed.code).toBe(0);
    expect(ofType(resumed, 'log')).toContainEqual({ type: 'log', level: 'info', message: `resumed from step ${ckpt!.step}` });
    expect(ofType(resumed, 'progress')[0]!.step).toBe(ckpt!.step + 1);
    expect(ofType(resumed, 'result')).toEqual([{ type: 'result', metrics: { score: 30 } }]);
  });
});

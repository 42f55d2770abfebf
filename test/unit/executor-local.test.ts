import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecutorError, startTrainer, type ExitInfo, type RunningTrainer, type StartOptions } from '../../src/executors/local.js';
import { LineSplitter } from '../../src/executors/lines.js';
import type { OutputLine, TrainerEvent } from '../../src/trainers/protocol.js';
import { until } from '../helpers/wait.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/executor/', import.meta.url));
const roots: string[] = [];
afterAll(() => roots.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Captured {
  events: TrainerEvent[];
  outputs: OutputLine[];
  trainer: RunningTrainer;
  /** Resolves with the first event that matches. */
  waitFor: (pred: (e: TrainerEvent) => boolean) => Promise<TrainerEvent>;
}

async function start(fixture: string, hyperparameters: Record<string, unknown> = {}, extra: Partial<StartOptions> = {}): Promise<Captured> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'trainyard-exec-'));
  roots.push(cwd);
  const specPath = path.join(cwd, 'job.json');
  writeFileSync(specPath, JSON.stringify({ protocol: 1, job_id: 'job_test', attempt: 1, hyperparameters }));
  const events: TrainerEvent[] = [];
  const outputs: OutputLine[] = [];
  const waiters: { pred: (e: TrainerEvent) => boolean; resolve: (e: TrainerEvent) => void }[] = [];
  const trainer = await startTrainer({
    command: [process.execPath, path.join(FIXTURES, fixture)],
    specPath,
    cwd,
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.filter((w) => w.pred(e))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    },
    onOutput: (o) => outputs.push(o),
    ...extra,
  });
  const waitFor = (pred: (e: TrainerEvent) => boolean) => {
    const seen = events.find(pred);
    return seen ? Promise.resolve(seen) : new Promise<TrainerEvent>((resolve) => waiters.push({ pred, resolve }));
  };
  return { events, outputs, trainer, waitFor };
}

const script = (steps: unknown[], extra: Partial<StartOptions> = {}) => start('script.mjs', { steps }, extra);

/** Gone, or a zombie: PID 1 in a container does not always reap the orphans it inherits. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Until `pid` has died; fails the test if it is still alive after `ms`. */
const waitDead = (pid: number, ms = 2000) => until(() => !isAlive(pid), { timeoutMs: ms, intervalMs: 20, message: `process ${pid} to die` });

const grandchildPid = (e: TrainerEvent) => (e.type === 'log' && e.message.startsWith('grandchild ') ? Number(e.message.slice(11)) : null);

describe('LineSplitter', () => {
  const split = (chunks: (string | Buffer)[], max = 1024) => {
    const lines: [string, number][] = [];
    const s = new LineSplitter(max, (line, cut) => lines.push([line, cut]));
    for (const c of chunks) s.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
    s.end();
    return lines;
  };

  it('joins lines and multi-byte characters split across chunks, strips CRLF, keeps a last line without newline', () => {
    const euro = Buffer.from('€'); // 3 bytes
    expect(split(['ab', 'c\nd', euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2), 'e\r\n\nlast'])).toEqual([
      ['abc', 0],
      ['d€e', 0],
      ['', 0],
      ['last', 0],
    ]);
  });

  it('keeps at most maxLineBytes of a line, cut on a character boundary, and counts the rest', () => {
    // 'é' is 2 bytes: 5 × 'é' = 10 bytes, cut at 5 would split the third one.
    expect(split(['ééééé\n', 'x'.repeat(3), 'y'.repeat(10), '\r\n', 'short\r\n'], 5)).toEqual([
      ['éé', 6],
      ['xxxyy', 8],
      ['short', 0],
    ]);
    // A line of exactly max bytes plus CRLF is not truncated.
    expect(split(['12345\r', '\n'], 5)).toEqual([['12345', 0]]);
  });
});

describe('startTrainer', () => {
  it('delivers protocol events in order, and every other line to onOutput', async () => {
    const { events, outputs, trainer } = await script([
      { out: JSON.stringify({ type: 'progress', step: 1, total_steps: 3 }) },
      { out: 'plain text' },
      { err: 'a warning on stderr' },
      { out: JSON.stringify({ type: 'metrics', step: 1, values: { loss: 0.5 } }) },
      { out: '{"type":"progress","step":"nope"}' },
      { out: '{broken json' },
      { out: JSON.stringify({ type: 'log', level: 'error', message: 'first failure' }) },
      { out: JSON.stringify({ type: 'log', level: 'error', message: 'CUDA out of memory' }) },
      { out: JSON.stringify({ type: 'result', metrics: { accuracy: 0.9 } }) },
      { raw: 'no newline at the end' },
    ]);
    const info = await trainer.done;
    expect(events.map((e) => e.type)).toEqual(['progress', 'metrics', 'log', 'log', 'result']);
    expect(events[1]).toEqual({ type: 'metrics', step: 1, values: { loss: 0.5 } });
    expect(outputs.filter((o) => o.type === 'stdout').map((o) => o.line)).toEqual([
      'plain text',
      '{"type":"progress","step":"nope"}',
      '{broken json',
      'no newline at the end',
    ]);
    expect(outputs.filter((o) => o.type === 'stderr').map((o) => o.line)).toEqual(['a warning on stderr']);
    expect(info).toMatchObject({ code: 0, signal: null, stopped: false, killed: false, lastError: 'CUDA out of memory', stderrTail: ['a warning on stderr'] });
    expect(info.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('decodes a UTF-8 character the process wrote in two separate chunks', async () => {
    const { outputs, trainer } = await script([{ hex: '61c3' }, { sleep: 50 }, { hex: 'a90d0a' }]);
    await trainer.done;
    expect(outputs).toEqual([{ type: 'stdout', line: 'aé' }]);
  });

  it('reports a crash: exit code, the output before it, and a capped stderr tail', async () => {
    const { events, trainer } = await script(
      [{ out: JSON.stringify({ type: 'progress', step: 5, total_steps: 10 }) }, { errLines: 200 }, { err: 'Traceback: boom' }, { exit: 3 }],
      { stderrTailLines: 10 },
    );
    const info = await trainer.done;
    expect(info).toMatchObject({ code: 3, signal: null, stopped: false, killed: false, lastError: null });
    expect(events).toEqual([{ type: 'progress', step: 5, total_steps: 10 }]);
    expect(info.stderrTail).toHaveLength(10);
    expect(info.stderrTail.at(-1)).toBe('Traceback: boom');
    expect(info.stderrTail[0]).toBe('stderr line 192');
  });

  it('a well-behaved trainer checkpoints on SIGTERM and exits 0 within the grace', async () => {
    const { events, trainer, waitFor } = await start('graceful.mjs');
    await waitFor((e) => e.type === 'progress');
    const first = trainer.stop(5000);
    const second = trainer.stop(5000);
    const info = await first;
    expect(await second).toBe(info);
    expect(info).toMatchObject({ code: 0, signal: null, stopped: true, killed: false });
    expect(info.durationMs).toBeLessThan(5000);
    expect(events.at(-1)).toMatchObject({ type: 'checkpoint', path: 'checkpoints/last' });
  });

  it('SIGKILLs a trainer that ignores SIGTERM once the grace is over', async () => {
    const { events, trainer, waitFor } = await start('stubborn.mjs');
    await waitFor((e) => e.type === 'progress');
    const t0 = Date.now();
    const info = await trainer.stop(300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(info).toMatchObject({ code: null, signal: 'SIGKILL', stopped: true, killed: true });
    expect(events).toContainEqual({ type: 'log', level: 'warn', message: 'ignoring SIGTERM' });
  });

  it('stop() after the exit resolves with the same ExitInfo and sends nothing', async () => {
    const { trainer } = await script([{ exit: 0 }]);
    const info = await trainer.done;
    expect(await trainer.stop(100)).toBe(info);
    expect(info.stopped).toBe(false);
  });

  it('survives throwing handlers, reporting the failure once', async () => {
    const outputs: OutputLine[] = [];
    const line = JSON.stringify({ type: 'progress', step: 1, total_steps: 2 });
    const { trainer } = await script([{ out: line }, { out: line }, { out: 'text' }], {
      onEvent: () => {
        throw new Error('db is down');
      },
      onOutput: (o) => outputs.push(o),
    });
    const info = await trainer.done;
    expect(info.code).toBe(0);
    expect(outputs).toEqual([
      { type: 'stderr', line: 'executor: handler error: db is down' },
      { type: 'stdout', line: 'text' },
    ]);
  });

  it('stays bounded under a 50 MB flood of garbage and very long lines', async () => {
    let count = 0;
    let maxLen = 0;
    const samples: string[] = [];
    const { trainer } = await start(
      'flood.mjs',
      {},
      {
        onOutput: (o) => {
          count++;
          maxLen = Math.max(maxLen, Buffer.byteLength(o.line));
          if (samples.length < 2) samples.push(o.line.slice(-40));
        },
      },
    );
    const info = await trainer.done;
    expect(info.code).toBe(0);
    expect(count).toBe(26);
    expect(maxLen).toBeLessThanOrEqual(64 * 1024 + 40);
    const MB = 1024 * 1024;
    expect(samples[0]).toMatch(new RegExp(`x…\\[truncated ${25 * MB - 64 * 1024} bytes\\]$`));
    expect(samples[1]).toMatch(new RegExp(`x…\\[truncated ${MB - 64 * 1024} bytes\\]$`));
  });

  it('kills a forked grandchild on stop()', async () => {
    const { trainer, waitFor } = await start('grandchild.mjs', { mode: 'wait' });
    const pid = grandchildPid(await waitFor((e) => grandchildPid(e) !== null));
    expect(pid).toBeGreaterThan(0);
    const info = await trainer.stop(2000);
    expect(info).toMatchObject({ signal: 'SIGTERM', stopped: true, killed: false });
    await waitDead(pid as number);
  });

  it('kills a forked grandchild left behind by a normal exit (and does not wait on the pipe it holds)', async () => {
    const { trainer, waitFor } = await start('grandchild.mjs', { mode: 'exit' });
    const pid = grandchildPid(await waitFor((e) => grandchildPid(e) !== null));
    const t0 = Date.now();
    const info = await trainer.done;
    expect(info).toMatchObject({ code: 0, stopped: false, killed: false });
    // Well under the 2 s drain cap: the pipe closed because the grandchild died, not by timeout.
    expect(Date.now() - t0).toBeLessThan(1000);
    await waitDead(pid as number);
  });

  it('gives the trainer an allowlisted env: no server secrets, GPUs and passed vars visible', async () => {
    const saved = { TRAINYARD_SECRET: process.env.TRAINYARD_SECRET, NODE_OPTIONS: process.env.NODE_OPTIONS };
    process.env.TRAINYARD_SECRET = 'do-not-leak';
    process.env.NODE_OPTIONS = '--max-old-space-size=64';
    try {
      const run = async (extra: Partial<StartOptions>) => {
        const { events, trainer } = await start('env.mjs', {}, extra);
        expect((await trainer.done).code).toBe(0);
        return (events[0] as Extract<TrainerEvent, { type: 'result' }>).details as {
          env: Record<string, string>;
          keys: string[];
          cwd: string;
          tmpExists: boolean;
        };
      };
      const seen = await run({ env: { FOO: 'bar' }, gpus: [0, 1] });
      expect(seen.env.TRAINYARD_SECRET).toBeUndefined();
      expect(seen.env.NODE_OPTIONS).toBeUndefined();
      expect(seen.env).toMatchObject({
        FOO: 'bar',
        CUDA_VISIBLE_DEVICES: '0,1',
        HOME: seen.cwd,
        TMPDIR: path.join(seen.cwd, 'tmp'),
      });
      expect(seen.tmpExists).toBe(true);
      expect(seen.keys.sort()).toEqual(['CUDA_VISIBLE_DEVICES', 'FOO', 'HOME', 'LANG', 'PATH', 'PYTHONUNBUFFERED', 'TMPDIR', 'XDG_CACHE_HOME']);

      expect((await run({ gpus: [] })).env.CUDA_VISIBLE_DEVICES).toBe('');
      expect('CUDA_VISIBLE_DEVICES' in (await run({})).env).toBe(false);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('rejects with SPAWN_FAILED when the command does not exist', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'trainyard-exec-'));
    roots.push(cwd);
    const err = await startTrainer({
      command: [path.join(cwd, 'no-such-trainer')],
      specPath: path.join(cwd, 'job.json'),
      cwd,
      onEvent: () => {},
      onOutput: () => {},
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err).toMatchObject({ code: 'SPAWN_FAILED' });
    expect((err as ExecutorError).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('leaves no timers, processes or pipes behind once done resolves', async () => {
    const count = (type: string) => process.getActiveResourcesInfo().filter((t) => t === type).length;
    const before = { timers: count('Timeout'), procs: count('ProcessWrap'), pipes: count('PipeWrap') };
    const { trainer, waitFor } = await start('graceful.mjs');
    await waitFor((e) => e.type === 'progress');
    // A long grace that the trainer does not need: its SIGKILL timer must not outlive the run.
    const info: ExitInfo = await trainer.stop(60_000);
    expect(info.killed).toBe(false);
    await new Promise((r) => setImmediate(r));
    // At most as many as before: handles of earlier tests may still be closing when we count first.
    expect(count('Timeout')).toBeLessThanOrEqual(before.timers);
    expect(count('ProcessWrap')).toBeLessThanOrEqual(before.procs);
    expect(count('PipeWrap')).toBeLessThanOrEqual(before.pipes);
  });
});

describe('startTrainer backpressure (flow)', () => {
  /** Whether `pid` is blocked in write(2) (syscall 1 on x86-64, 64 on arm64). */
  const blockedInWrite = (pid: number) => {
    try {
      const nr = readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0];
      return nr === (process.arch === 'arm64' ? '64' : '1');
    } catch {
      return false;
    }
  };

  it('stops reading while the consumer is busy, so a flooding trainer blocks on its own write; resumes when drained', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'trainyard-exec-'));
    roots.push(cwd);
    const specPath = path.join(cwd, 'job.json');
    const total = 200_000;
    writeFileSync(specPath, JSON.stringify({ protocol: 1, hyperparameters: { steps: total } }));
    let busy = true;
    let release!: () => void;
    const drained = new Promise<void>((r) => (release = r));
    let events = 0;
    const trainer = await startTrainer({
      command: [process.execPath, fileURLToPath(new URL('../fixtures/trainers/chatty.mjs', import.meta.url))],
      specPath,
      cwd,
      onEvent: () => events++,
      onOutput: () => {},
      flow: { busy: () => busy, drained: () => drained },
    });
    await until(() => blockedInWrite(trainer.pid), { message: 'the trainer to block writing to a pipe nobody reads' });
    // One chunk read before the pause, at most: nowhere near the 200,000 lines it has to say.
    expect(events).toBeLessThan(5000);
    busy = false;
    release();
    const exit = await trainer.done;
    expect(exit.code).toBe(0);
    expect(events).toBe(total + 1);
  });
});

/**
 * Runs one trainer program as a child process on this machine (see ../trainers/protocol.ts).
 * The trainer leads its own process group, so stop() and the clean-up after exit reach
 * whatever it forked too (data loaders, a shell wrapper's children).
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { parseEvent, storable, type OutputLine, type TrainerEvent } from '../trainers/protocol.js';
import { LineSplitter } from './lines.js';

export interface StartOptions {
  /** argv, e.g. [process.execPath, '/abs/trainer.mjs']; '--spec', specPath are appended. */
  command: string[];
  specPath: string;
  /** The job folder; becomes HOME, and <cwd>/tmp becomes TMPDIR. */
  cwd: string;
  /** Merged over the minimal base env; the server's own environment never reaches the trainer. */
  env?: Record<string, string>;
  /** Sets CUDA_VISIBLE_DEVICES ([] hides every GPU); undefined leaves it unset. */
  gpus?: number[];
  onEvent: (e: TrainerEvent) => void;
  onOutput: (o: OutputLine) => void;
  maxLineBytes?: number;
  stderrTailLines?: number;
  /**
   * Backpressure from whoever consumes the events: while busy() the pipes are not read, so a
   * flooding trainer blocks on its own write instead of growing this process's memory.
   */
  flow?: Flow;
}

export interface Flow {
  busy(): boolean;
  /** Resolves once there is room again (or never will be needed: closed, lost). */
  drained(): Promise<void>;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  /** stop() was called before the process exited. */
  stopped: boolean;
  /** It outlived the grace period and was SIGKILLed. */
  killed: boolean;
  stderrTail: string[];
  /** Message of the last `log` event with level 'error'. */
  lastError: string | null;
}

export interface RunningTrainer {
  readonly pid: number;
  /** Resolves once the process exited, its output is drained and every callback has run. Never rejects. */
  readonly done: Promise<ExitInfo>;
  /** SIGTERM to the group, SIGKILL after graceMs if still alive. Idempotent; a later call may only shorten the grace. */
  stop(graceMs: number): Promise<ExitInfo>;
}

export type ExecutorErrorCode = 'SPAWN_FAILED' | 'INVALID_OPTIONS';

export class ExecutorError extends Error {
  readonly code: ExecutorErrorCode;
  constructor(code: ExecutorErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ExecutorError';
    this.code = code;
  }
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
export const DEFAULT_STDERR_TAIL_LINES = 50;
// After the group is SIGKILLed only a process that left the group (setsid, a daemon) can still
// hold our pipes open; past this we stop waiting for it rather than never finishing the job.
const DRAIN_AFTER_EXIT_MS = 2000;

/** The trainer's environment: an allowlist, never process.env wholesale (it holds the server's secrets). */
export function trainerEnv(opts: Pick<StartOptions, 'cwd' | 'env' | 'gpus'>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: opts.cwd,
    LANG: process.env.LANG || 'C.UTF-8',
    TMPDIR: path.join(opts.cwd, 'tmp'),
    // Python block-buffers a piped stdout: events would arrive in 8 KiB bursts and a crash
    // would swallow the last ones, which are the ones that explain it.
    PYTHONUNBUFFERED: '1',
    // Caches (Hugging Face, torch, pip) in the job folder: the trainer's user owns nothing else.
    XDG_CACHE_HOME: path.join(opts.cwd, '.cache'),
    ...opts.env,
  };
  // The worker's GPU assignment wins over anything the trainer's own env asks for.
  if (opts.gpus !== undefined) env.CUDA_VISIBLE_DEVICES = opts.gpus.join(',');
  return env;
}

export async function startTrainer(opts: StartOptions): Promise<RunningTrainer> {
  const [file, ...args] = opts.command;
  if (!file) throw new ExecutorError('INVALID_OPTIONS', 'command is empty');
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const tailLines = opts.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new ExecutorError('INVALID_OPTIONS', 'maxLineBytes must be a positive integer');
  if (!Number.isInteger(tailLines) || tailLines < 0) throw new ExecutorError('INVALID_OPTIONS', 'stderrTailLines must be a non-negative integer');

  // Not recursive: a missing job folder is the caller's bug and should fail here, not be invented.
  const tmp = path.join(opts.cwd, 'tmp');
  await mkdir(tmp).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw new ExecutorError('SPAWN_FAILED', `cannot create ${tmp}: ${err.message}`, err);
  });

  let child: ChildProcessByStdio<null, Readable, Readable>;
  try {
    child = spawn(file, [...args, '--spec', opts.specPath], {
      cwd: opts.cwd,
      env: trainerEnv(opts),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (err) {
    throw new ExecutorError('SPAWN_FAILED', `cannot start ${file}: ${(err as Error).message}`, err);
  }

  return new Promise<RunningTrainer>((resolve, reject) => {
    const onError = (err: Error) => {
      child.removeListener('spawn', onSpawn);
      // Typed non-null, but a failed spawn may not have set the pipes up at all.
      child.stdout?.destroy();
      child.stderr?.destroy();
      reject(new ExecutorError('SPAWN_FAILED', `cannot start ${file}: ${err.message}`, err));
    };
    const onSpawn = () => {
      child.removeListener('error', onError);
      resolve(supervise(child, opts, maxLineBytes, tailLines));
    };
    child.once('error', onError);
    child.once('spawn', onSpawn);
  });
}

/** A spawned trainer's output pipes; a warm one (warm-pool.ts) has a stdin too. */
export type TrainerChild = ChildProcess & { stdout: Readable; stderr: Readable };

/** Reads, parses and stops one started trainer (also one started earlier, warm-pool.ts); limits already checked. */
export function supervise(
  child: TrainerChild,
  opts: StartOptions,
  maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  tailLines = DEFAULT_STDERR_TAIL_LINES,
): RunningTrainer {
  const pid = child.pid as number;
  const startedAt = performance.now();
  const stderrTail: string[] = [];
  let lastError: string | null = null;
  let handlerFailed = false;
  let exited: { code: number | null; signal: NodeJS.Signals | null; durationMs: number } | null = null;
  let stopped = false;
  let killed = false;
  let killTimer: NodeJS.Timeout | undefined;
  let killAt = Infinity;
  let drainTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (info: ExitInfo) => void;
  const done = new Promise<ExitInfo>((r) => (resolveDone = r));

  // A throwing handler must not take the executor (and the worker) down, nor flood the log
  // with one report per line: the first failure is told, the rest are swallowed.
  const safely = (deliver: () => void) => {
    try {
      deliver();
    } catch (err) {
      if (handlerFailed) return;
      handlerFailed = true;
      try {
        opts.onOutput({ type: 'stderr', line: `executor: handler error: ${err instanceof Error ? err.message : String(err)}` });
      } catch {
        // onOutput itself is what throws; there is nobody left to tell.
      }
    }
  };

  const stdoutLines = new LineSplitter(maxLineBytes, (raw, cut) => {
    const line = storable(raw);
    // A cut line cannot be a valid event, and reparsing its prefix could invent one.
    const event = cut > 0 ? null : parseEvent(line);
    if (!event) return safely(() => opts.onOutput({ type: 'stdout', line: cut > 0 ? truncated(line, cut) : line }));
    if (event.type === 'log' && event.level === 'error') lastError = event.message;
    safely(() => opts.onEvent(event));
  });
  const stderrLines = new LineSplitter(maxLineBytes, (raw, cut) => {
    const line = storable(cut > 0 ? truncated(raw, cut) : raw);
    if (tailLines > 0) {
      stderrTail.push(line);
      if (stderrTail.length > tailLines) stderrTail.shift();
    }
    safely(() => opts.onOutput({ type: 'stderr', line }));
  });

  let paused = false;
  const pauseIfBusy = () => {
    if (paused || !opts.flow?.busy()) return;
    paused = true;
    child.stdout.pause();
    child.stderr.pause();
    opts.flow.drained().then(() => {
      paused = false;
      child.stdout.resume();
      child.stderr.resume();
    });
  };
  const onStdout = (chunk: Buffer) => {
    stdoutLines.push(chunk);
    pauseIfBusy();
  };
  const onStderr = (chunk: Buffer) => {
    stderrLines.push(chunk);
    pauseIfBusy();
  };
  const onStreamError = (err: Error) => safely(() => opts.onOutput({ type: 'stderr', line: `executor: pipe error: ${err.message}` }));
  const onChildError = onStreamError;

  const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    exited = { code, signal, durationMs: Math.round(performance.now() - startedAt) };
    clearTimeout(killTimer);
    // Whatever the trainer forked and left behind dies with it, also on a normal exit.
    signalGroup(pid, 'SIGKILL');
    const giveUp = () => {
      // Still paused by backpressure: the rest is ours to read, not an escaped process's.
      if (paused) {
        drainTimer = setTimeout(giveUp, DRAIN_AFTER_EXIT_MS);
        return;
      }
      child.stdout.destroy();
      child.stderr.destroy();
    };
    drainTimer = setTimeout(giveUp, DRAIN_AFTER_EXIT_MS);
  };

  // 'close' comes after 'exit' and after both pipes closed, so every byte has been read.
  const onClose = (code: number | null, signal: NodeJS.Signals | null) => {
    clearTimeout(drainTimer);
    clearTimeout(killTimer);
    stdoutLines.end();
    stderrLines.end();
    child.removeListener('exit', onExit);
    child.removeListener('close', onClose);
    child.removeListener('error', onChildError);
    child.stdout.removeListener('data', onStdout).removeListener('error', onStreamError);
    child.stderr.removeListener('data', onStderr).removeListener('error', onStreamError);
    const e = exited ?? { code, signal, durationMs: Math.round(performance.now() - startedAt) };
    resolveDone({ ...e, stopped, killed, stderrTail: [...stderrTail], lastError });
  };

  child.stdout.on('data', onStdout).on('error', onStreamError);
  child.stderr.on('data', onStderr).on('error', onStreamError);
  child.on('exit', onExit);
  child.on('close', onClose);
  child.on('error', onChildError);

  const stop = (graceMs: number): Promise<ExitInfo> => {
    if (exited) return done;
    if (!stopped) {
      stopped = true;
      signalGroup(pid, 'SIGTERM');
    }
    const grace = Number.isFinite(graceMs) ? Math.max(0, graceMs) : 0;
    const at = performance.now() + grace;
    if (at < killAt) {
      killAt = at;
      clearTimeout(killTimer);
      killTimer = setTimeout(() => {
        if (exited) return;
        killed = true;
        signalGroup(pid, 'SIGKILL');
      }, grace);
    }
    return done;
  };

  return { pid, done, stop };
}

function truncated(line: string, cutBytes: number): string {
  return `${line}…[truncated ${cutBytes} bytes]`;
}

/** Signals the whole group (-pid); ESRCH just means everyone is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    // The group is unreachable for another reason (EPERM): at least reach the leader.
    try {
      process.kill(pid, signal);
    } catch {
      // Gone meanwhile.
    }
  }
}

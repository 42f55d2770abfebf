/**
 * What every built-in TypeScript trainer needs around its own math: the spec from argv,
 * event helpers, a cooperative stop flag for SIGTERM, exit codes, and a seeded PRNG.
 * Nothing here runs at import time, so tests and the server can import trainer modules freely.
 */
import { readFileSync } from 'node:fs';
import { emit } from '../protocol.js';
import type { JobSpec, LogLevel, TrainerEvent } from '../protocol.js';

/** 128 + SIGTERM(15): what a shell reports for a process killed by SIGTERM, so the worker reads it the same way. */
export const EXIT_STOPPED = 143;
export const EXIT_FAILED = 1;

/** A failure whose message is meant for the user as is (bad input, bad options); no stack trace needed. */
export class TrainerError extends Error {
  override name = 'TrainerError';
}

export function parseSpecPath(argv: readonly string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--spec' && argv[i + 1] !== undefined) return argv[i + 1]!;
    if (arg.startsWith('--spec=')) return arg.slice('--spec='.length);
  }
  throw new TrainerError('usage: <trainer> --spec <job.json>');
}

export function readSpec(argv: readonly string[] = process.argv.slice(2)): JobSpec {
  const file = parseSpecPath(argv);
  let spec: JobSpec;
  try {
    spec = JSON.parse(readFileSync(file, 'utf8')) as JobSpec;
  } catch (err) {
    throw new TrainerError(`cannot read job spec ${file}: ${(err as Error).message}`);
  }
  if (!spec || typeof spec !== 'object' || spec.protocol !== 1)
    throw new TrainerError(`job spec ${file}: unsupported protocol ${String(spec?.protocol)} (expected 1)`);
  if (typeof spec.output_dir !== 'string' || typeof spec.checkpoint_dir !== 'string')
    throw new TrainerError(`job spec ${file}: output_dir and checkpoint_dir are required`);
  if (!spec.inputs?.dataset) throw new TrainerError(`job spec ${file}: inputs.dataset is required`);
  return spec;
}

export const send = (event: TrainerEvent): void => emit(event);

export const log = (level: LogLevel, message: string): void => emit({ type: 'log', level, message });

/**
 * Progress at most every `intervalMs`: a fast trainer would otherwise print one line per batch,
 * thousands per second, which the worker has to parse and forward for nothing.
 */
export class ProgressReporter {
  private last = -Infinity;
  constructor(
    readonly totalSteps: number,
    readonly totalEpochs: number,
    private readonly intervalMs = 50,
  ) {}

  report(step: number, epoch: number, force = false): void {
    const now = performance.now();
    if (!force && step < this.totalSteps && now - this.last < this.intervalMs) return;
    this.last = now;
    emit({ type: 'progress', step, total_steps: this.totalSteps, epoch, total_epochs: this.totalEpochs });
  }
}

/**
 * SIGTERM only sets a flag: the trainer checks it between batches and decides what a clean
 * stop means (a checkpoint at a consistent point), instead of dying mid-update.
 */
export class StopSignal {
  private requested = false;
  private lastYield = performance.now();

  install(): this {
    const onSignal = (): void => {
      this.requested = true;
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    return this;
  }

  get stopRequested(): boolean {
    return this.requested;
  }

  /** Tests and embedders can stop a run without a real signal. */
  request(): void {
    this.requested = true;
  }

  /**
   * A synchronous training loop starves the event loop, and signal handlers run from it; a
   * turn every ~20 ms keeps the stop latency low without paying for a yield per batch.
   */
  async shouldStop(): Promise<boolean> {
    const now = performance.now();
    if (now - this.lastYield >= 20) {
      this.lastYield = now;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return this.requested;
  }
}

/**
 * Writes to a pipe are "synchronous on Linux", but stdio here is a socketpair, and under a
 * Node 26 parent its buffer fills after ~1.5 kB: the rest is queued, and process.exit() drops
 * it (measured: 8 of 20 runs lost the last lines). Never exit with events or a stack queued.
 */
function flushStdio(): Promise<unknown> {
  const flush = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write('', () => resolve()));
  return Promise.all([flush(process.stdout), flush(process.stderr)]);
}

/**
 * Runs a trainer body: reads the spec, installs the stop signal, maps the outcome to the exit
 * code the worker expects. The body returns its exit code (0 or EXIT_STOPPED) or nothing.
 */
/**
 * A worker killed with SIGKILL cannot stop its trainer (which runs in its own process group).
 * A trainer that prints stops at its next write (EPIPE); this catches a quiet one: when the
 * parent is gone the trainer is re-parented, and it stops as a stop request would.
 */
function watchParent(stop: StopSignal): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      stop.request();
      setTimeout(() => process.exit(EXIT_STOPPED), 5000).unref();
    }
  }, 1000);
  timer.unref();
}

export async function runTrainer(body: (spec: JobSpec, stop: StopSignal) => Promise<number | void>): Promise<never> {
  const stop = new StopSignal().install();
  watchParent(stop);
  let code: number;
  try {
    const spec = readSpec();
    code = (await body(spec, stop)) ?? 0;
  } catch (err) {
    const known = err instanceof TrainerError;
    log('error', known ? err.message : `unexpected error: ${(err as Error)?.message ?? String(err)}`);
    // The stack helps whoever debugs the trainer; it stays out of the user-facing event.
    if (!known) console.error((err as Error)?.stack ?? err);
    code = EXIT_FAILED;
  }
  await flushStdio();
  process.exit(code);
}

/**
 * mulberry32: tiny, fast, and its whole state is one 32-bit integer, which is what makes
 * checkpoints able to resume the exact same shuffle sequence.
 */
export class Rng {
  state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates in place; arrays and typed arrays alike. */
  shuffle<A extends { length: number; [i: number]: unknown }>(items: A): A {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}

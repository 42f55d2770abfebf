/**
 * What the built-in trainers' PyTorch backends (issue #15) share: the trainer environment's
 * interpreter, and one run of a Python training loop (`python -m <module> DIR`) that talks back
 * in JSON lines on stdout. The TypeScript trainer writes its data and settings into DIR, and
 * reads arrays back from files there (raw little-endian float32).
 *
 * The loop's first line is `ready`. A child that exits before it (no such interpreter, torch
 * does not import) is TorchUnavailable: backend `auto` then trains with tfjs instead. After
 * `ready`, a failure is the job's failure.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TrainerError, log } from './runtime.js';

export type BackendChoice = 'auto' | 'tfjs' | 'torch';
export const BACKENDS: readonly BackendChoice[] = ['auto', 'tfjs', 'torch'];

/**
 * The trainer environment's interpreter, as the worker passes it (runtimes/builtin.ts); null
 * when none is configured. Not stat()ed: a sandboxed trainer may run an interpreter whose
 * path it cannot stat (a venv linking into a closed home folder); starting it is the test.
 */
export function trainerPython(): string | null {
  return process.env.TRAINER_PYTHON || null;
}

/** The environment could not start the loop at all (no torch, import error). */
export class TorchUnavailable extends Error {}

export type ChildEvent = { type: string; [k: string]: unknown };

/**
 * Runs `python -m module dir` until it exits. `onEvent` sees every JSON line (other lines go to
 * the log); its last non-null answer is the result. A SIGTERM to this trainer (`stop`) is passed
 * on: the loop stops between batches and reports its state. A throw from `onEvent` kills the
 * child and fails the run.
 */
export function runTorchChild<T>(
  python: string,
  module: string,
  dir: string,
  stop: { readonly stopRequested: boolean },
  onEvent: (e: ChildEvent) => Promise<T | null>,
): Promise<T> {
  const child = spawn(python, ['-m', module, dir], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderr.push(l);
    if (stderr.length > 20) stderr.shift();
    process.stderr.write(l + '\n');
  });
  // The stop flag is set by our own SIGTERM handler; the loop over there checks its own.
  const watch = setInterval(() => {
    if (stop.stopRequested && child.exitCode === null) child.kill('SIGTERM');
  }, 50);
  let ready = false;
  let outcome: T | null = null;
  let failure: Error | null = null;
  const lines = createInterface({ input: child.stdout });
  const handled = (async () => {
    for await (const line of lines) {
      let e: ChildEvent;
      try {
        e = JSON.parse(line) as ChildEvent;
      } catch {
        log('info', line);
        continue;
      }
      if (e.type === 'ready') ready = true;
      try {
        outcome = (await onEvent(e)) ?? outcome;
      } catch (err) {
        failure ??= err as Error;
        child.kill('SIGKILL');
      }
    }
  })();
  return new Promise<T>((resolve, reject) => {
    child.on('error', (err) => reject(new TorchUnavailable(`cannot start ${python}: ${err.message}`)));
    child.on('close', (code, signal) => {
      clearInterval(watch);
      void handled.then(() => {
        if (failure) return reject(failure);
        if (outcome) return resolve(outcome);
        const why = `${stderr.slice(-5).join('\n') || `exit ${code ?? signal}`}`;
        if (!ready) return reject(new TorchUnavailable(`the PyTorch backend could not start: ${why}`));
        reject(new TrainerError(`the PyTorch training loop failed: ${why}`));
      });
    });
  });
}

/** Writes a typed array's bytes as they are in memory (little-endian on every platform Node runs on). */
export async function writeArray(dir: string, file: string, a: Float32Array | Int32Array | Float64Array): Promise<string> {
  await writeFile(path.join(dir, file), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return file;
}

export async function readF32(file: string): Promise<Float32Array> {
  const buf = await readFile(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function concatF32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

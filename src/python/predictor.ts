import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TrainerDef } from '../domain/catalog/types.js';
import { PredictorFailure, type Prediction, type Predictor } from '../trainers/predictor.js';
import { PACKS_DIR, packEnv, packModule } from './env.js';

// Loading torch + transformers + the weights takes seconds; a model that is not ready in two
// minutes is broken, not slow.
const READY_TIMEOUT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 60_000;

export class PythonPredictorError extends PredictorFailure {}

/** Whether a Python pack ships a prediction process (trainers/python/trainyard_<entry>/predict.py). */
export function hasPythonPredictor(t: TrainerDef): boolean {
  return t.runtime.type === 'python' && existsSync(path.join(PACKS_DIR, packModule(t.runtime.entry), 'predict.py'));
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(path.join(dir, f))).size;
  return total;
}

/** An instance is a string, or an object with a `text` field (the same field the dataset used). */
function textOf(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object' && typeof (x as { text?: unknown }).text === 'string') return (x as { text: string }).text;
  throw new Error('each instance must be a string or an object with a "text" string');
}

/**
 * A long-lived `python -m trainyard_<entry>.predict --model DIR` process per loaded model,
 * spoken to in JSON lines over stdin/stdout; requests are matched to answers by id, so
 * concurrent requests share the process. The model cache owns its lifetime.
 */
export async function loadPythonPredictor(python: string, t: TrainerDef, dir: string): Promise<Predictor> {
  const child: ChildProcessWithoutNullStreams = spawn(python, ['-m', `${packModule(t.runtime.entry)}.predict`, '--model', dir], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1', ...packEnv() },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pending = new Map<number, { resolve: (p: Prediction[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const stderr: string[] = [];
  let nextId = 1;
  let exited: string | null = null;
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr.push(...d.split('\n').filter(Boolean));
    stderr.splice(0, Math.max(0, stderr.length - 20));
  });
  child.stdin.on('error', () => {});
  const exitPromise = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new PythonPredictorError('the prediction process did not get ready in time')), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: { ready?: boolean; id?: number; predictions?: Array<{ label: string | number | boolean; scores: Record<string, number> }>; error?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.ready) {
        clearTimeout(timer);
        resolve();
        return;
      }
      const p = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
      if (!p) return;
      pending.delete(msg.id!);
      clearTimeout(p.timer);
      if (msg.error !== undefined || !Array.isArray(msg.predictions)) p.reject(new Error(msg.error ?? 'malformed answer'));
      // A pack that records its labels' type answers them typed (3, not "3"); anything else is text.
      else
        p.resolve(
          msg.predictions.map((x) => ({
            label: typeof x.label === 'number' || typeof x.label === 'boolean' ? x.label : String(x.label),
            probabilities: x.scores,
          })),
        );
    });
    child.once('close', (code, signal) => {
      exited = `the prediction process exited (${signal ?? code})${stderr.length ? `: ${stderr.slice(-3).join(' | ')}` : ''}`;
      clearTimeout(timer);
      reject(new PythonPredictorError(exited));
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(new PythonPredictorError(exited));
      }
      pending.clear();
    });
    child.once('error', (err) => reject(new PythonPredictorError(`cannot start the prediction process: ${err.message}`)));
  });
  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const bytes = await folderBytes(dir);
  const dispose = (): void => {
    // EOF asks it to exit; SIGTERM makes sure.
    child.stdin.end();
    child.kill('SIGTERM');
  };

  return {
    bytes,
    predict(instances: unknown[]): Promise<Prediction[]> {
      if (exited) return Promise.reject(new PythonPredictorError(exited));
      const inputs = instances.map(textOf);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new PythonPredictorError('the prediction process did not answer in time'));
        }, REQUEST_TIMEOUT_MS);
        pending.set(id, { resolve, reject, timer });
        child.stdin.write(JSON.stringify({ id, inputs }) + '\n');
      });
    },
    dispose,
    async close(): Promise<void> {
      if (exited) return;
      dispose();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}

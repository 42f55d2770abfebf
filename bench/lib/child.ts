/**
 * Runs a bench helper (a .ts file in bench/lib) in its own Node process, so the load it
 * generates or absorbs does not share the server's event loop. Messages go over the IPC
 * channel as objects with a `kind`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { onCleanup } from './cleanup.js';

/** tsx's loader as an absolute URL, as src/trainers/runtimes/builtin.ts does it. */
export function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist', 'loader.mjs')).href;
}

export interface Child {
  proc: ChildProcess;
  send(msg: { kind: string; [k: string]: unknown }): void;
  /** Resolves with the next message of this kind (queued if it came earlier). */
  next<T extends { kind: string }>(kind: T['kind']): Promise<T>;
  exited: Promise<number | null>;
}

/** `script`: a file name in bench/lib, or an absolute path. */
export function startChild(script: string, env: Record<string, string> = {}): Child {
  const proc = fork(path.resolve('bench/lib', script), [], {
    execArgv: ['--import', tsxLoader()],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  // SIGTERM, not SIGKILL: a part process then runs its own clean-ups (bench/lib/cleanup.ts).
  const unregister = onCleanup(() => proc.kill('SIGTERM'));
  const queue: Array<{ kind: string }> = [];
  const waiting: Array<{ kind: string; resolve: (m: { kind: string }) => void; reject: (e: Error) => void }> = [];
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      unregister();
      for (const w of waiting.splice(0)) w.reject(new Error(`${script} exited (${code}) before sending "${w.kind}"`));
      resolve(code);
    }),
  );
  proc.on('message', (m: { kind: string }) => {
    const i = waiting.findIndex((w) => w.kind === m.kind);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
    else queue.push(m);
  });
  return {
    proc,
    send: (msg) => proc.send(msg),
    next<T extends { kind: string }>(kind: T['kind']): Promise<T> {
      const i = queue.findIndex((m) => m.kind === kind);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as T);
      if (proc.exitCode !== null) return Promise.reject(new Error(`${script} already exited`));
      return new Promise<T>((resolve, reject) => waiting.push({ kind, resolve: resolve as (m: { kind: string }) => void, reject }));
    },
    exited,
  };
}

/**
 * Runs one part of a bench (e.g. one database) in a fresh process: the bench file is started
 * again with BENCH_PART set to `part` (JSON), and answers with `sendPart(result)`. A process
 * that has hosted PGlite keeps its memory, and that would bias what runs after it (fork() cost
 * grows with the parent's resident memory), so each database gets a process of its own.
 */
export async function runPart<T>(benchFile: string, part: unknown): Promise<T> {
  const child = startChild(benchFile, { BENCH_PART: JSON.stringify(part) });
  const m = await child.next<{ kind: 'part'; result: T }>('part');
  await child.exited;
  return m.result;
}

/** In a part process: what the parent passed, or null in the parent itself. */
export function partInput<T>(): T | null {
  return process.env.BENCH_PART ? (JSON.parse(process.env.BENCH_PART) as T) : null;
}

export function sendPart(result: unknown): Promise<void> {
  return new Promise((resolve, reject) => process.send!({ kind: 'part', result }, (err: Error | null) => (err ? reject(err) : resolve())));
}

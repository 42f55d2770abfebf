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

/** tsx's loader as an absolute URL, as src/worker/trainer-command.ts does it. */
export function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist', 'loader.mjs')).href;
}

export interface Child {
  proc: ChildProcess;
  send(msg: { kind: string }): void;
  /** Resolves with the next message of this kind (queued if it came earlier). */
  next<T extends { kind: string }>(kind: T['kind']): Promise<T>;
  exited: Promise<number | null>;
}

export function startChild(script: string): Child {
  const proc = fork(path.resolve('bench/lib', script), [], { execArgv: ['--import', tsxLoader()], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const unregister = onCleanup(() => proc.kill('SIGKILL'));
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

/**
 * Runs a bench helper (a .ts file in bench/lib) in its own Node process, so the load it
 * generates or absorbs does not share the server's event loop. Messages go over the IPC
 * channel: the parent sends one start message, the child answers with one result message.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { onCleanup } from './cleanup.js';

function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist', 'loader.mjs')).href;
}

export interface Child<Msg> {
  proc: ChildProcess;
  send(msg: unknown): void;
  /** The next message of the given kind. */
  next<K extends Msg & { kind: string }>(kind: K['kind']): Promise<K>;
  exited: Promise<number | null>;
  kill(): void;
}

export function startChild<Msg extends { kind: string }>(script: string): Child<Msg> {
  const proc = fork(path.resolve('bench/lib', script), [], { execArgv: ['--import', tsxLoader()], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const unregister = onCleanup(() => proc.kill('SIGKILL'));
  const queue: Msg[] = [];
  const waiting: Array<{ kind: string; resolve: (m: Msg) => void; reject: (e: Error) => void }> = [];
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      unregister();
      for (const w of waiting.splice(0)) w.reject(new Error(`${script} exited (${code}) before sending ${w.kind}`));
      resolve(code);
    }),
  );
  proc.on('message', (m: Msg) => {
    const i = waiting.findIndex((w) => w.kind === m.kind);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
    else queue.push(m);
  });
  return {
    proc,
    send: (msg) => proc.send(msg as never),
    next<K extends Msg>(kind: string): Promise<K> {
      const i = queue.findIndex((m) => m.kind === kind);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as K);
      if (proc.exitCode !== null) return Promise.reject(new Error(`${script} already exited`));
      return new Promise<K>((resolve, reject) => waiting.push({ kind, resolve: resolve as (m: Msg) => void, reject }));
    },
    exited,
    kill() {
      proc.kill('SIGKILL');
    },
  };
}

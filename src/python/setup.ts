import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BUILTIN_TRAINERS } from '../domain/catalog/builtin.js';
import { REQUIREMENTS, venvPython } from './env.js';
import { PythonProbe, type ProbeReport } from './probe.js';

export class PythonSetupError extends Error {
  readonly code = 'PYTHON_SETUP_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PythonSetupError';
  }
}

export interface SetupProgress {
  phase: 'venv' | 'fetch' | 'install' | 'probe' | 'done';
  /** Packages seen so far in this phase. */
  count: number;
  message: string;
}

/** Runs a program, streaming its output lines to `onLine`; rejects with the tail on failure. */
function run(cmd: string, args: string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONUNBUFFERED: '1' } });
    const tail: string[] = [];
    const take = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split(/\r?\n/)) {
        if (!line.trim()) continue;
        tail.push(line);
        tail.splice(0, Math.max(0, tail.length - 15));
        onLine(line);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (err) => reject(new PythonSetupError(`cannot run ${cmd}: ${err.message}`, { cause: err })));
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new PythonSetupError(`${cmd} ${args.slice(0, 3).join(' ')} … exited with ${code}:\n${tail.join('\n')}`)),
    );
  });
}

/**
 * Creates the trainer environment (a venv) and installs the pinned requirements into it, then
 * probes it. Idempotent: an existing venv is reused and pip skips what is already there. The
 * packs themselves are not installed: they run from trainers/python on PYTHONPATH.
 */
export async function setupPython(o: {
  venv: string;
  basePython: string;
  requirements?: string[];
  onProgress: (p: SetupProgress) => void;
  onLine?: (line: string) => void;
}): Promise<ProbeReport> {
  const py = venvPython(o.venv);
  if (!existsSync(py)) {
    o.onProgress({ phase: 'venv', count: 0, message: `creating ${o.venv} with ${o.basePython}` });
    await run(o.basePython, ['-m', 'venv', o.venv], o.onLine ?? (() => {}));
  }
  let phase: SetupProgress['phase'] = 'fetch';
  let count = 0;
  const files = o.requirements ?? [REQUIREMENTS];
  await run(py, ['-m', 'pip', 'install', '--progress-bar', 'off', ...files.flatMap((f) => ['-r', f])], (line) => {
    o.onLine?.(line);
    // pip names each requirement once on a Collecting (or already-satisfied) line, then installs them all.
    const m = /^(Collecting|Requirement already satisfied:|Installing collected packages:)\s*(.*)$/.exec(line.trim());
    if (!m) return;
    const next: SetupProgress['phase'] = m[1] === 'Installing collected packages:' ? 'install' : 'fetch';
    if (next !== phase) count = 0;
    phase = next;
    count = next === 'install' ? (m[2] ?? '').split(',').length : count + 1;
    o.onProgress({ phase, count, message: (m[2] ?? '').split(/[\s(]/)[0] ?? '' });
  });
  o.onProgress({ phase: 'probe', count: 0, message: 'importing the trainer packs' });
  const probe = new PythonProbe(py);
  const entries = BUILTIN_TRAINERS.flatMap((t) => (t.runtime.type === 'python' ? [t.runtime.entry] : []));
  await Promise.all(entries.map((e) => probe.check(e)));
  const report = (await probe.report())!;
  o.onProgress({ phase: 'done', count: 0, message: 'ready' });
  return report;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseEvent, type TrainerEvent } from '../../src/trainers/protocol.js';

export interface TrainerRun {
  code: number | null;
  events: TrainerEvent[];
  stderr: string;
  out: string;
  ckpt: string;
  /** Wall time from spawn to exit. */
  ms: number;
}

/**
 * Writes `spec` to `specPath` and runs a built-in trainer from source (`node --import tsx
 * main.ts --spec …`) as the worker would, collecting its protocol events until it exits;
 * `onEvent` sees each event with the child, so a test can stop it mid-run.
 */
export async function runBuiltinTrainer(
  main: string,
  spec: { output_dir: string; checkpoint_dir: string },
  specPath: string,
  onEvent?: (e: TrainerEvent, child: ChildProcess) => void,
): Promise<TrainerRun> {
  await writeFile(specPath, JSON.stringify(spec));
  const started = Date.now();
  return new Promise<TrainerRun>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--spec', specPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run: TrainerRun = { code: null, events: [], stderr: '', out: spec.output_dir, ckpt: spec.checkpoint_dir, ms: 0 };
    child.stderr.on('data', (c: Buffer) => (run.stderr += c.toString()));
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const e = parseEvent(line);
      if (e) run.events.push(e);
      if (e && onEvent) onEvent(e, child);
    });
    let pending = 2;
    const finish = (): void => void (--pending === 0 && resolve({ ...run, ms: Date.now() - started }));
    lines.on('close', finish);
    child.on('error', reject);
    child.on('exit', (code) => {
      run.code = code;
      finish();
    });
  });
}

export const ofType = <T extends TrainerEvent['type']>(run: TrainerRun, type: T) => run.events.filter((e): e is Extract<TrainerEvent, { type: T }> => e.type === type);

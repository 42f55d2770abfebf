import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainerDef } from '../domain/catalog/types.js';

const BUILTIN_DIR = fileURLToPath(new URL('../trainers/builtin/', import.meta.url));

/**
 * The argv that starts a trainer (the executor appends `--spec <file>`). Built-in trainers run
 * from the compiled JavaScript in a build, or from TypeScript through tsx when running from
 * source (tests, `tsx src/main.ts`), so both paths exercise the same program.
 */
export function trainerCommand(t: TrainerDef, opts: { dataDir: string }): string[] {
  switch (t.runtime.type) {
    case 'command':
      return [...(t.runtime.command ?? [])];
    case 'builtin': {
      const js = path.join(BUILTIN_DIR, t.runtime.entry, 'main.js');
      if (existsSync(js)) return [process.execPath, js];
      return [process.execPath, '--import', 'tsx', path.join(BUILTIN_DIR, t.runtime.entry, 'main.ts')];
    }
    case 'python':
      return [path.join(opts.dataDir, 'python', '.venv', 'bin', 'python'), '-m', `trainyard_${t.runtime.entry}`];
  }
}

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TrainerDef } from '../domain/catalog/types.js';
import { packEnv, packModule } from '../python/env.js';

const BUILTIN_DIR = fileURLToPath(new URL('../trainers/builtin/', import.meta.url));

/** tsx's loader as an absolute URL: the trainer runs in its job folder, where `tsx` would not resolve. */
function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist', 'loader.mjs')).href;
}

/**
 * The argv that starts a trainer (the executor appends `--spec <file>`). Built-in trainers run
 * from the compiled JavaScript in a build, or from TypeScript through tsx when running from
 * source (tests, `tsx src/main.ts`), so both paths exercise the same program.
 */
export function trainerCommand(t: TrainerDef, opts: { python: string }): string[] {
  switch (t.runtime.type) {
    case 'command':
      return [...(t.runtime.command ?? [])];
    case 'builtin': {
      const js = path.join(BUILTIN_DIR, t.runtime.entry, 'main.js');
      if (existsSync(js)) return [process.execPath, js];
      return [process.execPath, '--import', tsxLoader(), path.join(BUILTIN_DIR, t.runtime.entry, 'main.ts')];
    }
    case 'python':
      return [opts.python, '-m', packModule(t.runtime.entry)];
  }
}

/** Environment a trainer needs beyond the executor's allowlist (the Python packs' import path). */
export function trainerExtraEnv(t: TrainerDef): Record<string, string> {
  return t.runtime.type === 'python' ? packEnv() : {};
}

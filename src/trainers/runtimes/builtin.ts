import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TrainerDef } from '../../domain/catalog/types.js';
import { ConflictError } from '../../errors.js';
import type { PredictorModule } from '../predictor.js';
import { packEnv } from '../../python/env.js';
import type { Runtime } from './types.js';

// The one place that knows where built-in trainers live: src/trainers/builtin from source,
// dist/src/trainers/builtin in a build (the relative path is the same).
const BUILTIN_DIR = fileURLToPath(new URL('../builtin/', import.meta.url));

/** A built-in trainer's folder: main.ts (the program), predictor.ts (serving), catalog.ts (its entry). */
export function builtinDir(entry: string): string {
  return path.join(BUILTIN_DIR, entry);
}

// Built-ins whose programs import tfjs (about a second of start-up): a warm host imports it
// before its job arrives. linear-classifier does not use it.
const TFJS_TRAINERS = new Set(['sequence-classifier', 'text-classifier']);

/** tsx's loader as an absolute URL: the trainer runs in its job folder, where `tsx` would not resolve. */
export function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist', 'loader.mjs')).href;
}

/**
 * Built-in trainers run from the compiled JavaScript in a build, or from TypeScript through tsx
 * when running from source (tests, `tsx src/main.ts`), so both paths exercise the same program.
 * Their predictor.ts runs in the API process.
 */
const TORCH_TRAINERS = new Set(['sequence-classifier', 'text-classifier']);

export const builtinRuntime: Runtime = {
  type: 'builtin',

  async probe(def) {
    const dir = builtinDir(def.runtime.entry);
    return existsSync(path.join(dir, 'main.js')) || existsSync(path.join(dir, 'main.ts')) ? null : 'this trainer is not part of this build yet';
  },

  command(def, ctx) {
    const dir = builtinDir(def.runtime.entry);
    const js = path.join(dir, 'main.js');
    const node = existsSync(js) ? [process.execPath] : [process.execPath, '--import', tsxLoader()];
    const module = existsSync(js) ? js : path.join(dir, 'main.ts');
    const preload = TFJS_TRAINERS.has(def.runtime.entry) ? [createRequire(import.meta.url).resolve('@tensorflow/tfjs')] : [];
    // The torch backends of the sequence-classifier and the text-classifier's transformer run
    // their loops in the Python trainer environment (packs under trainers/python); the others
    // never start Python.
    const env = TORCH_TRAINERS.has(def.runtime.entry) ? { TRAINER_PYTHON: ctx.python, ...packEnv() } : {};
    return { argv: [...node, module], env, warm: { node, module, args: [], preload } };
  },

  predictor(def: TrainerDef): PredictorModule {
    return {
      async loadPredictor(dir) {
        // A .js URL: tsx maps it to predictor.ts when running from source.
        const url = pathToFileURL(path.join(builtinDir(def.runtime.entry), 'predictor.js'));
        let mod: PredictorModule;
        try {
          mod = (await import(url.href)) as PredictorModule;
        } catch (err) {
          throw new ConflictError('PREDICTION_NOT_SUPPORTED', `${def.id} has no predictor: ${(err as Error).message}`);
        }
        return mod.loadPredictor(dir);
      },
    };
  },
};

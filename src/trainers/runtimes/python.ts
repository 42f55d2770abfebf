import { hasPythonPredictor, loadPythonPredictor } from '../../python/predictor.js';
import { packEnv, packModule } from '../../python/env.js';
import type { Runtime } from './types.js';

/**
 * Python packs (trainers/python/trainyard_<entry>): run as `python -m trainyard_<entry>` in the
 * trainer environment, available when that environment imports them, served by their
 * predict.py as a child process per loaded model when they ship one.
 */
export const pythonRuntime: Runtime = {
  type: 'python',

  async probe(def, ctx) {
    return ctx.packs ? ctx.packs.check(def.runtime.entry) : 'no Python trainer environment is configured';
  },

  command(def, ctx) {
    return { argv: [ctx.python, '-m', packModule(def.runtime.entry)], env: packEnv() };
  },

  predictor(def, ctx) {
    return hasPythonPredictor(def) ? { loadPredictor: (dir) => loadPythonPredictor(ctx.python, def, dir) } : null;
  },
};

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Predictor } from '../../predictor.js';
import { MODEL_FORMAT, predict, type LinearModel } from './model.js';

/** `dir` holds the version's artifacts as files named after them; this trainer needs `model`. */
export async function loadPredictor(dir: string): Promise<Predictor> {
  const file = path.join(dir, 'model');
  const model = JSON.parse(await readFile(file, 'utf8')) as LinearModel & { format?: string };
  if (model.format !== MODEL_FORMAT) throw new Error(`not a ${MODEL_FORMAT} model`);
  const bytes = (await stat(file)).size;
  return {
    bytes,
    async predict(instances) {
      instances.forEach((x, i) => {
        if (!x || typeof x !== 'object' || Array.isArray(x)) throw new Error(`instances[${i}] must be an object of column: value`);
      });
      return predict(model, instances as Record<string, unknown>[]);
    },
    dispose() {},
  };
}

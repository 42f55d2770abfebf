import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Runtime } from './types.js';

/**
 * Any executable speaking the trainer protocol (custom deployments, test trainers), named by
 * argv in the catalog entry. Nothing is known about its models, so they cannot be served.
 */
export const commandRuntime: Runtime = {
  type: 'command',

  async probe(def) {
    const exe = def.runtime.command?.[0];
    if (!exe) return 'runtime.command is empty';
    // A bare name is looked up on PATH when started; only an absolute path can be checked now.
    return path.isAbsolute(exe) && !existsSync(exe) ? `${exe} does not exist` : null;
  },

  command(def) {
    return { argv: [...(def.runtime.command ?? [])], env: {} };
  },

  predictor() {
    return null;
  },
};

import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Runtime, TrainerCommand } from './types.js';

/**
 * `runtime.warm: true` opts a command trainer into pre-started processes (src/executors/warm-pool.ts):
 * only for `[node, script, ...args]`, the shape the warm host can become; anything else starts cold.
 */
function warmNode(argv: string[]): Pick<TrainerCommand, 'warm'> {
  const [exe, script, ...args] = argv;
  if (!exe || !script || script.startsWith('-') || !path.isAbsolute(script)) return {};
  if (exe !== process.execPath && path.basename(exe) !== 'node') return {};
  return { warm: { node: [exe], module: script, args, preload: [] } };
}

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
    const argv = [...(def.runtime.command ?? [])];
    return { argv, env: {}, ...(def.runtime.warm === true ? warmNode(argv) : {}) };
  },

  predictor() {
    return null;
  },
};

import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Python trainer packs are plain source under trainers/python, put on PYTHONPATH rather than
 * pip-installed into the environment: a checkout's packs and the code that runs them never
 * disagree, and the environment only holds third-party libraries (torch, diffusers, …).
 * From src/python or dist/python alike, the repository root is two folders up.
 */
export const PACKS_DIR = fileURLToPath(new URL('../../trainers/python/', import.meta.url));
export const REQUIREMENTS = path.join(PACKS_DIR, 'requirements.txt');

/** The trainer environment's interpreter: TRAINER_PYTHON, or the one `trainyard setup python` makes. */
export function defaultVenv(dataDir: string): string {
  return path.join(dataDir, 'python', '.venv');
}

export function venvPython(venv: string): string {
  return path.join(venv, 'bin', 'python');
}

/** What a Python pack needs beyond the executor's allowlisted environment. */
export function packEnv(): Record<string, string> {
  return {
    PYTHONPATH: PACKS_DIR,
    // Never reach the hub: base models are local folders . The packs set these too.
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    HF_HUB_DISABLE_TELEMETRY: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** `python -m trainyard_<entry>`: "lora_diffusion" runs the pack, "lora_diffusion.generate" a module in it. */
export function packModule(entry: string): string {
  return `trainyard_${entry}`;
}

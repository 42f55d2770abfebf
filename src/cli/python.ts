import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { AppError } from '../errors.js';
import { defaultVenv, venvPython } from '../python/env.js';
import { buildSampleModel, SAMPLE_MODELS, type SampleModel } from '../python/sample-models.js';
import { setupPython, type SetupProgress } from '../python/setup.js';

const BAR_WIDTH = 24;
const PHASES: SetupProgress['phase'][] = ['venv', 'fetch', 'install', 'probe', 'done'];

/**
 * One status line redrawn in place on a terminal (pip's own output goes to the log file
 * only with --verbose); plain lines per phase when stdout is not a terminal (CI logs).
 */
function progressPrinter(verbose: boolean) {
  const tty = process.stdout.isTTY && !verbose;
  let lastPhase = '';
  return (p: SetupProgress) => {
    const i = PHASES.indexOf(p.phase);
    const filled = Math.round((BAR_WIDTH * i) / (PHASES.length - 1));
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
    const what = p.phase === 'fetch' ? `package ${p.count}: ${p.message}` : p.phase === 'install' ? `installing ${p.count} packages` : p.message;
    const text = `${bar} ${p.phase} ${what}`.slice(0, (process.stdout.columns ?? 100) - 1);
    if (tty) process.stdout.write(`\r\x1b[2K${text}${p.phase === 'done' ? '\n' : ''}`);
    // A CI log gets a line per phase and one per ten packages, not a redraw per package.
    else if (p.phase !== lastPhase || p.count % 10 === 0) console.log(text);
    lastPhase = p.phase;
  };
}

/** `trainyard setup python [--venv DIR] [--python python3] [--verbose]` */
export async function setupPythonCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { venv: { type: 'string' }, python: { type: 'string' }, verbose: { type: 'boolean' } } });
  const config = loadConfig();
  // The venv TRAINER_PYTHON points into, or the default one under DATA_DIR.
  const venv = path.resolve(values.venv ?? (process.env.TRAINER_PYTHON ? path.dirname(path.dirname(config.python.bin)) : defaultVenv(config.dataDir)));
  const started = Date.now();
  const report = await setupPython({
    venv,
    basePython: values.python ?? process.env.PYTHON ?? 'python3',
    onProgress: progressPrinter(!!values.verbose),
    ...(values.verbose ? { onLine: (l: string) => console.log(`  ${l}`) } : {}),
  });
  console.log(`Python trainer environment: ${venv} (${Math.round((Date.now() - started) / 1000)} s)`);
  console.log(
    `  python ${report.python ?? '?'}, ${Object.entries(report.versions)
      .map(([k, v]) => `${k} ${v ?? '-'}`)
      .join(', ')}; CUDA ${report.cuda ? 'available' : 'not available (CPU only)'}`,
  );
  for (const [entry, reason] of Object.entries(report.packs))
    console.log(`  ${reason === null ? 'ok  ' : 'FAIL'} trainyard_${entry}${reason ? `: ${reason}` : ''}`);
  if (venvPython(venv) !== config.python.bin) console.log(`Point the server at it with TRAINER_PYTHON=${venvPython(venv)}`);
  if (Object.values(report.packs).some((r) => r !== null)) throw new AppError('PYTHON_SETUP_FAILED', 'some trainer packs do not import; see above');
}

/** `trainyard sample-model <tiny-stable-diffusion|tiny-llama|tiny-bert|tiny-videomae|tiny-idefics|tiny-video-llava> [--out DIR] [--seed N]` */
export async function sampleModelCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, seed: { type: 'string' } } });
  const kind = positionals[0] as SampleModel | undefined;
  if (!kind || !(kind in SAMPLE_MODELS)) throw new AppError('USAGE', `sample-model needs a kind: ${Object.keys(SAMPLE_MODELS).join(', ')}`);
  const config = loadConfig();
  const out = path.resolve(values.out ?? path.join(config.dataDir, 'models', kind));
  const m = await buildSampleModel(config.python.bin, kind, out, values.seed ? Number(values.seed) : 0);
  console.log(`wrote a tiny randomly initialised ${m.architecture} model to ${out}`);
  console.log(
    `register it (as an admin): POST /v1/admin/base-models {"id": "${kind}", "architecture": "${m.architecture}", "trainers": ${JSON.stringify(m.trainers)}, "path": "${out}"}`,
  );
}

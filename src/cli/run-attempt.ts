import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AppError } from '../errors.js';
import { runAttempt } from '../launcher/run-attempt.js';

export const RUN_ATTEMPT_HELP = `trainyard run-attempt --url ATTEMPT_URL [--token-file FILE] [--work-dir DIR] [--python BIN] [--keep]
  Runs one job attempt on this machine for a Slurm or Kubernetes executor: fetches the spec and
  inputs through signed URLs, runs the trainer, streams its events to the API, uploads its
  outputs, and exits with the trainer's exit status. Needs no database and no server secret.
  ATTEMPT_URL   https://api.example/v1/jobs/<job id>/attempts/<n> (or TRAINYARD_ATTEMPT_URL)
  token         the attempt token: --token-file, else TRAINYARD_ATTEMPT_TOKEN
  --work-dir    where the attempt's folder is made (default: TMPDIR/trainyard-attempts)
  --python      the trainer environment's interpreter (default: TRAINER_PYTHON or python3)`;

/** Exits with the trainer's status (0 when it succeeded and everything was reported). */
export async function runAttemptCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      'token-file': { type: 'string' },
      'work-dir': { type: 'string' },
      python: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const url = values.url ?? process.env.TRAINYARD_ATTEMPT_URL;
  const token = values['token-file'] ? (await readFile(values['token-file'], 'utf8')).trim() : process.env.TRAINYARD_ATTEMPT_TOKEN;
  if (!url || !token) throw new AppError('USAGE', `an attempt URL and token are required\n\n${RUN_ATTEMPT_HELP}`);
  // The token must not reach the trainer: trainerEnv passes only an allowlist, and it leaves ours too.
  delete process.env.TRAINYARD_ATTEMPT_TOKEN;
  const code = await runAttempt({
    url,
    token,
    workDir: values['work-dir'] ?? path.join(tmpdir(), 'trainyard-attempts'),
    python: values.python ?? process.env.TRAINER_PYTHON ?? 'python3',
    keep: values.keep ?? false,
    log: (m) => console.error(`run-attempt: ${m}`),
  });
  process.exit(code);
}

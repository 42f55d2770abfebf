#!/usr/bin/env node
// A thin dispatcher: each command's modules are imported only when that command runs. The
// server's graph (fastify, the database drivers, the S3 client, the services) takes over a
// second to load, and `run-attempt` (the launcher a Slurm job or a Kubernetes pod starts for
// every attempt) needs none of it: that second was most of a remote attempt's pickup latency.
// So nothing heavy is imported statically here; test/unit/launcher-imports.test.ts keeps the
// launcher's own graph clear of the server.
import { CLIENT_COMMANDS } from './cli/client/commands.js';
import { AppError, ConfigError } from './errors.js';

const HELP = `trainyard: train models through an API

Usage:
  trainyard serve [--no-worker]   start the API and an in-process worker (--no-worker or WORKER_IN_PROCESS=false:
                                  an API replica only; run workers with \`trainyard worker\`)
  trainyard worker                run a worker only, against the same DATABASE_URL and storage
  trainyard migrate               apply database migrations and exit
  trainyard admin create --username NAME --password PASS [--email EMAIL]
                                  create an admin, or promote an existing user
  trainyard sample-data <eeg|security-prompts|images|videos> [--out DIR] [--size N] [--seed N]
                                  write a realistic synthetic dataset to try the trainers
  trainyard setup python [--venv DIR] [--python python3] [--verbose]
                                  create the Python trainer environment and install its pinned requirements
  trainyard sample-model <tiny-stable-diffusion|tiny-llama|tiny-bert|tiny-videomae|tiny-idefics|tiny-video-llava> [--out DIR] [--seed N]
                                  build a tiny random base model to try the Python trainers on a CPU
  trainyard run-attempt --url ATTEMPT_URL [--token-file FILE] [--work-dir DIR] [--python BIN]
                                  run one job attempt for a Slurm or Kubernetes executor (no database needed)
  trainyard openapi [--out FILE]  print (or write) the OpenAPI document the server serves at /openapi.json
  trainyard help

Client commands (talk to a server over HTTP; \`trainyard <command> --help\` for each, \`--json\` for scripts):
  trainyard signup --username NAME --email EMAIL [--password-stdin]
  trainyard login [--url URL] [--username NAME] [--password-stdin | --api-key KEY]
  trainyard whoami | logout | credits
  trainyard upload FILE…
  trainyard datasets create|list|show|samples
  trainyard trainers list|show ID
  trainyard train [JOB.yaml] [--trainer ID --dataset ID --model NAME --hp k=v] [--yes] [--watch]
  trainyard jobs list|show|logs [-f]|cancel
  trainyard watch JOB             live progress, ETA, metrics and a loss chart; exits 0 succeeded, 1 failed, 3 cancelled
  trainyard models list|versions|download|predict
  trainyard generate --prompt TEXT [--model NAME]

Configuration comes from environment variables (and DATA_DIR/config.json); see README.md.
The client reads TRAINYARD_URL and TRAINYARD_API_KEY. Exit status: 0 ok, 1 error, 2 usage.`;

async function main(argv: string[]): Promise<void> {
  const [cmd = 'serve', sub, ...rest] = argv;
  // The client sets its own exit status (0 ok, 1 error, 2 usage, 3 cancelled) and loads no server module.
  if (CLIENT_COMMANDS.has(cmd)) return (await import('./cli/client/index.js')).clientCommand(argv);
  /** The arguments after the command name. */
  const args = () => [sub, ...rest].filter((x): x is string => x !== undefined);
  switch (cmd) {
    case 'serve':
      return (await import('./cli/serve.js')).serveCommand('serve', args());
    case 'worker':
      return (await import('./cli/serve.js')).serveCommand('worker', args());
    case 'migrate':
      return (await import('./cli/database.js')).migrateCommand();
    case 'sample-data':
      return (await import('./cli/sample-data.js')).sampleDataCommand(args());
    case 'setup':
      if (sub === 'python') return (await import('./cli/python.js')).setupPythonCommand(rest);
      throw new AppError('USAGE', `unknown setup command: ${sub ?? '(none)'}\n\n${HELP}`);
    case 'sample-model':
      return (await import('./cli/python.js')).sampleModelCommand(args());
    case 'admin':
      if (sub === 'create') return (await import('./cli/database.js')).adminCreateCommand(rest);
      throw new AppError('USAGE', `unknown admin command: ${sub ?? '(none)'}\n\n${HELP}`);
    case 'run-attempt':
      // The launcher needs no configuration, database or secret: it loads none of their modules.
      return (await import('./cli/run-attempt.js')).runAttemptCommand(args());
    case 'openapi':
      return (await import('./cli/openapi.js')).openapiCommand(args());
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return;
    default:
      throw new AppError('USAGE', `unknown command: ${cmd}\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`trainyard: configuration error: ${err.message}`);
  else if (err instanceof AppError) console.error(`trainyard: ${err.message}`);
  else console.error('trainyard: fatal:', err);
  process.exit(1);
});

#!/usr/bin/env node
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { migrate } from './db/migrate.js';
import { openDb } from './db/open.js';
import { AccountsService } from './domain/accounts/service.js';
import { AppError, ConfigError } from './errors.js';
import { openapiCommand } from './cli/openapi.js';
import { sampleModelCommand, setupPythonCommand } from './cli/python.js';
import { createLogger, startRuntime } from './runtime.js';
import { makeSample } from './samples/index.js';
import { SAMPLE_KINDS, type SampleKind } from './samples/schema.js';

const HELP = `trainyard: train models through an API

Usage:
  trainyard serve                 start the API and an in-process worker (WORKER_IN_PROCESS=false: API only)
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

Configuration comes from environment variables (and DATA_DIR/config.json); see README.md.`;

async function serve(mode: 'serve' | 'worker'): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config);
  const rt = await startRuntime(config, { mode, logger: log });
  if (mode === 'serve')
    log.info(
      {
        url: rt.url,
        docs: `${rt.url}/docs`,
        database: rt.services.db.kind,
        dataDir: config.dataDir,
        // Where blobs go; never the S3 credentials.
        storage: config.storage.kind === 's3' ? `s3://${config.storage.bucket}` : config.storageDir,
        worker: rt.worker?.id ?? null,
        ...(config.compat.facades.length
          ? { compat: Object.fromEntries(config.compat.facades.map((f) => [f.name, rt.compatUrls[f.name] ?? `${rt.url}/compat/${f.name}`])) }
          : {}),
      },
      'trainyard is ready',
    );
  else log.info({ worker: rt.worker?.id, database: rt.services.db.kind }, 'trainyard worker is ready');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drain_ms: config.worker.drainMs }, 'shutting down');
    // A hung close must not keep the process alive forever: the orchestrator will SIGKILL anyway.
    const force = setTimeout(
      () => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      },
      config.worker.drainMs + config.worker.stopGraceMs + 30_000,
    );
    force.unref();
    rt.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function runMigrate(): Promise<void> {
  const config = loadConfig();
  const db = await openDb(config);
  try {
    const applied = await migrate(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await db.close();
  }
}

async function adminCreate(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { username: { type: 'string' }, password: { type: 'string' }, email: { type: 'string' } } });
  if (!values.username || !values.password) throw new AppError('USAGE', 'admin create needs --username and --password');
  const config = loadConfig();
  const db = await openDb(config);
  try {
    await migrate(db);
    const accounts = new AccountsService({
      db,
      secret: config.secret,
      jwtTtlSeconds: config.jwtTtlSeconds,
      signupPolicy: config.signupPolicy,
      login: config.login,
    });
    const { user, created } = await accounts.ensureAdmin({
      username: values.username,
      password: values.password,
      email: values.email ?? `${values.username}@trainyard.local`,
    });
    console.log(`${created ? 'created' : 'promoted'} admin ${user.username} (${user.id})`);
  } finally {
    await db.close();
  }
}

async function sampleData(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' } },
  });
  const kind = positionals[0] as SampleKind | undefined;
  if (!kind || !(SAMPLE_KINDS as readonly string[]).includes(kind)) throw new AppError('USAGE', `sample-data needs a kind: ${SAMPLE_KINDS.join(', ')}`);
  const out = path.resolve(values.out ?? path.join('samples', kind));
  const sample = await makeSample(kind, values.size ? Number(values.size) : undefined, values.seed ? Number(values.seed) : undefined);
  await mkdir(out, { recursive: true });
  for (const f of sample.files) await writeFile(path.join(out, f.name), f.data);
  console.log(
    `${sample.description}\nwrote ${sample.files.length} file(s) to ${out} — create it as a "${sample.datasetKind}" dataset${sample.options.label_column ? ` with options.label_column "${sample.options.label_column}"` : ''}, or use POST /v1/datasets/samples`,
  );
}

async function main(argv: string[]): Promise<void> {
  const [cmd = 'serve', sub, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serve('serve');
    case 'worker':
      return serve('worker');
    case 'migrate':
      return runMigrate();
    case 'sample-data':
      return sampleData([sub, ...rest].filter((x): x is string => x !== undefined));
    case 'setup':
      if (sub === 'python') return setupPythonCommand(rest);
      throw new AppError('USAGE', `unknown setup command: ${sub ?? '(none)'}\n\n${HELP}`);
    case 'sample-model':
      return sampleModelCommand([sub, ...rest].filter((x): x is string => x !== undefined));
    case 'admin':
      if (sub === 'create') return adminCreate(rest);
      throw new AppError('USAGE', `unknown admin command: ${sub ?? '(none)'}\n\n${HELP}`);
    case 'run-attempt':
      // Imported when run: the launcher needs no configuration, database or secret.
      return (await import('./cli/run-attempt.js')).runAttemptCommand([sub, ...rest].filter((x): x is string => x !== undefined));
    case 'openapi':
      return openapiCommand([sub, ...rest].filter((x): x is string => x !== undefined));
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

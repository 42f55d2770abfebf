import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { AppError } from '../errors.js';
import { createLogger, startRuntime } from '../runtime.js';

/**
 * `trainyard serve` (the API, and an in-process worker unless WORKER_IN_PROCESS=false or
 * --no-worker: an API replica) and `trainyard worker` (a worker only): runs until SIGTERM or
 * SIGINT, then drains and exits.
 */
export async function serveCommand(mode: 'serve' | 'worker', args: string[] = []): Promise<void> {
  const { values } = parseArgs({ args, options: { 'no-worker': { type: 'boolean', default: false } } });
  if (values['no-worker'] && mode === 'worker') throw new AppError('USAGE', '--no-worker is an option of serve');
  // The flag is the setting, said on the command line (it wins over the environment).
  const config = loadConfig(values['no-worker'] ? { ...process.env, WORKER_IN_PROCESS: 'false' } : process.env);
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

import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildServer } from './app/server.js';
import type { Config } from './config.js';
import type { Db } from './db/db.js';
import { migrate } from './db/migrate.js';
import { openDb } from './db/open.js';
import { createServices, type ServiceOverrides, type Services } from './services.js';

export interface Runtime {
  app: FastifyInstance;
  services: Services;
  url: string;
  close(): Promise<void>;
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'trainyard' } });
}

/** Opens the database, migrates, wires the services and the HTTP server: `trainyard serve`. */
export async function startRuntime(config: Config, o: ServiceOverrides & { db?: Db; logger?: Logger; listen?: boolean } = {}): Promise<Runtime> {
  const logger = o.logger ?? createLogger(config);
  const db = o.db ?? (await openDb(config, (m, e) => logger.error({ err: e }, m)));
  let app: FastifyInstance | null = null;
  let services: Services | null = null;
  const close = async () => {
    await app?.close();
    await services?.datasets.stop();
    if (!o.db) await db.close();
  };
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    services = await createServices(config, db, { onError: (m, e) => logger.error({ err: e }, m), ...o });
    if (config.admin) {
      const { user, created } = await services.accounts.ensureAdmin(config.admin);
      logger.info({ username: user.username, created }, 'admin account ensured from TRAINYARD_ADMIN_*');
    }
    await services.datasets.resume();
    app = await buildServer(services, logger);
    let url = '';
    if (o.listen !== false) {
      url = await app.listen({ port: config.port, host: config.host });
    } else {
      await app.ready();
    }
    return { app, services, url, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

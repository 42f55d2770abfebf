import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from './db.js';

/**
 * Postgres when DATABASE_URL is set, else the embedded PGlite under DATA_DIR. Each driver is
 * imported only when chosen: a start-up never pays for loading the other one.
 */
export async function openDb(config: Pick<Config, 'databaseUrl' | 'databaseListenUrl' | 'dataDir'>, logError?: (m: string, e: unknown) => void): Promise<Db> {
  if (config.databaseUrl) {
    const { openPg } = await import('./pg.js');
    return openPg(config.databaseUrl, { listenUrl: config.databaseListenUrl, ...(logError ? { logError } : {}) });
  }
  const { openPglite } = await import('./pglite.js');
  return openPglite(path.join(config.dataDir, 'pgdata'));
}

import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from './db.js';
import { openPg } from './pg.js';
import { openPglite } from './pglite.js';

export async function openDb(config: Pick<Config, 'databaseUrl' | 'dataDir'>, logError?: (m: string, e: unknown) => void): Promise<Db> {
  if (config.databaseUrl) return openPg(config.databaseUrl, logError ? { logError } : {});
  return openPglite(path.join(config.dataDir, 'pgdata'));
}

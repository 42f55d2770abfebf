import path from 'node:path';
import type { Config } from '../../config.js';
import { ConfigError } from '../../errors.js';

/** The facade's own settings (COMPAT_TRAINING_SERVICE_*), documented in the README's table. */
export interface TrainingServiceSettings {
  /** The service account that owns and pays for every job this facade starts. */
  account: string;
  /** When set, every request needs it (X-API-Key or Authorization: Bearer). */
  apiKey: string | null;
  /** training_data_path resolves only inside this folder. */
  dataRoot: string;
  /** The document's mount point of the data root (/app/training_data): paths under it map into dataRoot. */
  pathPrefix: string;
}

const USERNAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{2,31}$/;

export function readSettings(config: Pick<Config, 'dataDir' | 'compat'>): TrainingServiceSettings {
  const env = config.compat.settings;
  const account = env.COMPAT_TRAINING_SERVICE_ACCOUNT || 'training-service';
  if (!USERNAME.test(account))
    throw new ConfigError('COMPAT_TRAINING_SERVICE_ACCOUNT', `expected a username (3-32 letters, digits, "_", "." or "-"), got "${account}"`);
  const apiKey = env.COMPAT_TRAINING_SERVICE_API_KEY || null;
  if (apiKey !== null && apiKey.length < 16) throw new ConfigError('COMPAT_TRAINING_SERVICE_API_KEY', 'must be at least 16 characters');
  const dataRoot = path.resolve(config.dataDir, env.COMPAT_TRAINING_SERVICE_DATA_ROOT || path.join('compat', 'training-service', 'training_data'));
  const prefix = env.COMPAT_TRAINING_SERVICE_PATH_PREFIX || '/app/training_data';
  if (!prefix.startsWith('/') || prefix.split('/').includes('..'))
    throw new ConfigError('COMPAT_TRAINING_SERVICE_PATH_PREFIX', `expected an absolute path such as /app/training_data, got "${prefix}"`);
  return { account, apiKey, dataRoot, pathPrefix: prefix.replace(/\/+$/, '') || '/' };
}

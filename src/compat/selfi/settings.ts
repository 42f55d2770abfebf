import { bool, bytes, int, jsonObject, type Env } from '../../config.js';
import { ConfigError } from '../../errors.js';

/** The facade's own settings (COMPAT_SELFI_*), documented in the README's table; a bad value names its variable. */
export interface SelfiSettings {
  /** The identity provider x-user-id is an id at (the bot's provider must match). */
  provider: string;
  /** How long POST /generate waits for its generation before answering 504 (and cancelling it). */
  generateWaitMs: number;
  /** The base model of training; null: the lora-diffusion trainer's default_base_model. */
  baseModel: string | null;
  /** Sample images per training run (sample_every = ceil(steps / samples)); 0: none. */
  samples: number;
  /** Extra lora-diffusion hyperparameters for every training (resolution, rank…). */
  trainHyperparameters: Record<string, unknown>;
  /** Extra diffusion-generate hyperparameters for every generation (steps, width, height…). */
  generateHyperparameters: Record<string, unknown>;
  /** Whether a new LoRA is listed in /loras/public once completed (the document has no switch). */
  publicByDefault: boolean;
  /** The largest image POST /upload takes. */
  uploadMaxBytes: number;
}

export function selfiSettings(env: Env): SelfiSettings {
  const provider = env.COMPAT_SELFI_PROVIDER || 'telegram';
  if (!/^[a-z][a-z0-9_-]{1,31}$/.test(provider)) throw new ConfigError('COMPAT_SELFI_PROVIDER', `expected a provider name such as telegram, got "${provider}"`);
  return {
    provider,
    generateWaitMs: int(env, 'COMPAT_SELFI_GENERATE_WAIT', 120, 1, 3600) * 1000,
    baseModel: env.COMPAT_SELFI_BASE_MODEL || null,
    samples: int(env, 'COMPAT_SELFI_SAMPLES', 4, 0, 100),
    trainHyperparameters: jsonObject(env, 'COMPAT_SELFI_TRAIN_HYPERPARAMETERS', '{"resolution": 768}'),
    generateHyperparameters: jsonObject(env, 'COMPAT_SELFI_GENERATE_HYPERPARAMETERS', '{"steps": 30}'),
    publicByDefault: bool(env, 'COMPAT_SELFI_PUBLIC_BY_DEFAULT', true),
    uploadMaxBytes: bytes(env, 'COMPAT_SELFI_UPLOAD_MAX', 10 * 1024 ** 2),
  };
}

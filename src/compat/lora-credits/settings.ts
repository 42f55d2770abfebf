import { int, jsonObject, rateLimit, type Env, type RateLimit } from '../../config.js';
import { ConfigError } from '../../errors.js';

/** The facade's own settings (COMPAT_LORA_CREDITS_*), read once per mount; a bad value names its variable. */
export interface LoraCreditsSettings {
  /** POST /api/train/upload per user (the document: 10 a minute). */
  rateUpload: RateLimit;
  /** POST /api/train/start per user (the document: 5 a minute). */
  rateStart: RateLimit;
  /** Every other route per user, or per address for the signed model URL (the document: 60 a minute). */
  rateOther: RateLimit;
  /** The base model every job trains from; null: the trainer's default_base_model. */
  baseModel: string | null;
  /**
   * Trainer steps per requested step, in percent (100: the document's 600/1200/2000 are trained
   * as such). Below 100 for demos and tests on small machines: the job trains fewer steps and is
   * priced by them, so every preset then costs what its trained steps' tier does.
   */
  stepPercent: number;
  /** Hyperparameters added to every job (resolution, rank, …); steps and trigger_word are the facade's. */
  hyperparameters: Record<string, unknown>;
}

const BASE_MODEL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const RESERVED = ['steps', 'trigger_word'];

function hyperparameters(env: Env): Record<string, unknown> {
  const name = 'COMPAT_LORA_CREDITS_HYPERPARAMETERS';
  const value = jsonObject(env, name, '{"resolution": 512}');
  const reserved = Object.keys(value).filter((k) => RESERVED.includes(k));
  if (reserved.length) throw new ConfigError(name, `${reserved.join(', ')} come from the request, not from this setting`);
  return value;
}

export function loraCreditsSettings(env: Env): LoraCreditsSettings {
  const baseModel = env.COMPAT_LORA_CREDITS_BASE_MODEL || null;
  if (baseModel !== null && !BASE_MODEL.test(baseModel))
    throw new ConfigError('COMPAT_LORA_CREDITS_BASE_MODEL', `expected a base model id (letters, digits, "_", "." or "-"), got "${baseModel}"`);
  return {
    rateUpload: rateLimit(env, 'COMPAT_LORA_CREDITS_RATE_UPLOAD', '10/1m'),
    rateStart: rateLimit(env, 'COMPAT_LORA_CREDITS_RATE_START', '5/1m'),
    rateOther: rateLimit(env, 'COMPAT_LORA_CREDITS_RATE_OTHER', '60/1m'),
    baseModel,
    stepPercent: int(env, 'COMPAT_LORA_CREDITS_STEP_PERCENT', 100, 1, 100),
    hyperparameters: hyperparameters(env),
  };
}

/** A route's @fastify/rate-limit config: per user (the global key generator), off at 0. */
export function routeLimit(limit: RateLimit): { max: number; timeWindow: number } | false {
  return limit.max > 0 ? { max: limit.max, timeWindow: limit.windowMs } : false;
}

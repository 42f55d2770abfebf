import { bytes, rateLimit, type Env, type RateLimit } from '../../config.js';

/** The facade's own settings (COMPAT_NEUROLAB_*), read once per mount; a bad value names its variable. */
export interface NeurolabSettings {
  /** Body limit of the routes that take training data (JSON and multipart). */
  maxBody: number;
  /** Training jobs started per user, /api/train, /api/train/file and /api/train/compare together (counted in the database). */
  rateTrain: RateLimit;
  /** Status checks per user (GET /api/train/status/{id}, /api/train/compare/{id}). */
  rateStatus: RateLimit;
  /** Job listings per user (GET /api/train/jobs). */
  rateList: RateLimit;
}

export function neurolabSettings(env: Env): NeurolabSettings {
  return {
    // An hour of 5-band EEG at 256 Hz is ~920k rows, ~45 MB as JSON numbers: 64 MiB holds it.
    maxBody: bytes(env, 'COMPAT_NEUROLAB_MAX_BODY', 64 * 1024 ** 2),
    // The document's "Rate Limits" section.
    rateTrain: rateLimit(env, 'COMPAT_NEUROLAB_RATE_TRAIN', '5/1h'),
    rateStatus: rateLimit(env, 'COMPAT_NEUROLAB_RATE_STATUS', '60/1m'),
    rateList: rateLimit(env, 'COMPAT_NEUROLAB_RATE_LIST', '10/1m'),
  };
}

/** A route's @fastify/rate-limit config: per user (the global key generator), off at 0. */
export function routeLimit(limit: RateLimit): { max: number; timeWindow: number } | false {
  return limit.max > 0 ? { max: limit.max, timeWindow: limit.windowMs } : false;
}

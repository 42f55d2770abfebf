import type { Facade, FacadeError } from '../types.js';
import { selfiAuth } from './auth.js';
import { selfiRoutes } from './routes.js';
import { errorRef, SelfiError } from './schemas.js';
import { selfiSettings } from './settings.js';

/** The document's lower-case codes by status; a code already lower-case is the facade's own. */
const CODES: Record<number, string> = {
  400: 'invalid_parameters',
  401: 'unauthorized',
  402: 'insufficient_stars',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'file_too_large',
  414: 'invalid_parameters',
  415: 'invalid_file_type',
  422: 'invalid_parameters',
  426: 'upgrade_required',
  429: 'rate_limited',
  503: 'unavailable',
};

/** The document answers a wrong file type with 400; Trainyard's 415 and 422 are that. */
export function selfiEnvelope(e: FacadeError): { status: number; body: unknown } {
  const status = e.status === 415 || e.status === 422 ? 400 : e.status;
  const own = /^[a-z_]+$/.test(e.code);
  const code = own ? e.code : (CODES[e.status] ?? (e.status >= 500 ? 'internal_error' : 'invalid_parameters'));
  const extra =
    e.details && typeof e.details === 'object' && !Array.isArray(e.details)
      ? (e.details as Record<string, unknown>)
      : e.details === undefined
        ? {}
        : { info: e.details };
  // Trainyard's own code rides along in details, so a client can tell e.g. which check refused.
  const details = own ? (e.details ?? undefined) : { trainyard_code: e.code, ...extra };
  return { status, body: { error: { code, message: e.message, ...(details === undefined ? {} : { details }) } } };
}

/**
 * Seed 003, the selfie bot API: a Telegram bot's users train image LoRAs and generate images,
 * paying in stars (Trainyard credits). Every training is an ordinary lora-diffusion job, every
 * image an ordinary generation, every star a ledger entry.
 */
export const selfi: Facade = {
  name: 'selfi',
  tag: { name: 'compat: selfi', description: 'The selfie bot API (seed 003): LoRA training and image generation for a Telegram bot’s users' },
  schemas: [SelfiError],
  errorRef,
  envelope: (e) => selfiEnvelope(e),
  async plugin(app, s) {
    const settings = selfiSettings(s.config.compat.settings);
    selfiAuth(app, s, settings.provider);
    selfiRoutes(app, s, settings);
  },
};

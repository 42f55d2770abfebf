import { deriveKey } from '../../storage/signing.js';
import type { Facade, FacadeError } from '../types.js';
import type { Ctx } from './context.js';
import { routes } from './routes.js';
import { errorRef, LoraCreditsError } from './schemas.js';
import { loraCreditsSettings } from './settings.js';

/**
 * The document names two error codes for failures it does not explain: an unexpected error
 * (500) starting a job is TRAINING_START_ERROR, reading one or the list TRAINING_STATUS_ERROR. Every other
 * error keeps /v1's code and status (README, seed 000).
 */
export function codeOf(e: FacadeError, url: string | undefined): string {
  if (e.status < 500) return e.code;
  if (url?.endsWith('/api/train/start')) return 'TRAINING_START_ERROR';
  if (url?.endsWith('/api/train/models') || url?.includes('/api/train/:jobId')) return 'TRAINING_STATUS_ERROR';
  return e.code;
}

/** Seed 000, LoRA training with credits: every training an ordinary lora-diffusion job. */
export const loraCredits: Facade = {
  name: 'lora-credits',
  tag: { name: 'compat: lora-credits', description: 'The LoRA training API with credits (seed 000), served over Trainyard jobs and the ledger' },
  schemas: [LoraCreditsError],
  errorRef,
  envelope: (e, req) => ({ body: { code: codeOf(e, req.routeOptions?.url), message: e.message, timestamp: new Date().toISOString() } }),
  async plugin(app, s) {
    const ctx: Ctx = {
      s,
      settings: loraCreditsSettings(s.config.compat.settings),
      prefix: app.prefix,
      modelUrlKey: deriveKey(s.blobSigningKey, 'compat-lora-credits-model-url'),
    };
    await routes(app, ctx);
  },
};

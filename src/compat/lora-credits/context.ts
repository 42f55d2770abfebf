import type { Services } from '../../services.js';
import type { LoraCreditsSettings } from './settings.js';

/** What every part of the facade works with: the services, its settings, and where it is mounted. */
export interface Ctx {
  s: Services;
  settings: LoraCreditsSettings;
  /** The mount's path prefix ('' on the facade's own port, /compat/lora-credits on the main server). */
  prefix: string;
  /** Signs the stable model URLs (derived from the blob-signing key). */
  modelUrlKey: Buffer;
}

/** The trainer every job of this facade runs. */
export const TRAINER = 'lora-diffusion';

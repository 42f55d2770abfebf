import type { Services } from '../../services.js';
import type { TrainingServiceSettings } from './settings.js';

/** What every part of the facade works with: the services, its settings and its service account. */
export interface Ctx {
  s: Services;
  settings: TrainingServiceSettings;
  account: { id: string; username: string };
}

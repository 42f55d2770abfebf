import type { Facade } from '../types.js';
import { neurolabRoutes } from './routes.js';
import { errorRef, NeurolabError } from './schemas.js';
import { neurolabSettings } from './settings.js';

/**
 * Seed 001, the EEG training API: login, training from JSON rows or a CSV upload, status,
 * listing, deletion and architecture comparison, each an ordinary Trainyard job or sweep.
 * Errors answer in FastAPI's `{"detail": …}` with Trainyard's `code` beside it.
 */
export const neurolab: Facade = {
  name: 'neurolab',
  tag: { name: 'compat: neurolab', description: 'The EEG training API (seed 001), served over Trainyard jobs' },
  schemas: [NeurolabError],
  errorRef,
  envelope: (e) => ({ body: { detail: e.message, code: e.code } }),
  async plugin(app, s) {
    const settings = neurolabSettings(s.config.compat.settings);
    neurolabRoutes(app, s, settings);
  },
};

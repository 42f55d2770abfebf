import type { Facade } from '../types.js';
import { qloraRoutes } from './routes.js';
import { errorRef, QloraError } from './schemas.js';

/**
 * Seed 004, the QLoRA orchestration service: accounts, datasets uploaded straight to storage
 * through a pre-signed URL, the catalog's video base models, and fine-tuning jobs, each an
 * ordinary video-lora job. Errors answer in FastAPI's `{"detail": …}` (the document's section
 * 8) with Trainyard's `code` beside it.
 */
export const qlora: Facade = {
  name: 'qlora',
  tag: { name: 'compat: qlora', description: 'The QLoRA orchestration service (seed 004): video datasets in storage and LoRA/QLoRA fine-tuning' },
  schemas: [QloraError],
  errorRef,
  envelope: (e) => ({ body: { detail: e.message, code: e.code } }),
  async plugin(app, s) {
    qloraRoutes(app, s);
  },
};

import { TrainyardError } from './errors.js';
import { seg, sleep, type Http } from './http.js';
import { cursorList, type Paginated } from './pages.js';
import type { Dataset, DatasetCreate, DatasetSamples } from './types.js';

export class Datasets {
  constructor(private readonly http: Http) {}

  /** Creates a dataset from uploaded files; it is validated in the background (`waitUntilReady`). */
  create(body: DatasetCreate): Promise<Dataset> {
    return this.http.post<Dataset>('/v1/datasets', body);
  }

  /** A ready-made sample dataset (`eeg`, `security-prompts`, `images`, `videos`). */
  samples(body: DatasetSamples): Promise<Dataset> {
    return this.http.post<Dataset>('/v1/datasets/samples', body);
  }

  list(o: { limit?: number; kind?: string; status?: string } = {}): Paginated<Dataset> {
    return cursorList<Dataset>(this.http, '/v1/datasets', o);
  }

  get(id: string): Promise<Dataset> {
    return this.http.get<Dataset>(`/v1/datasets/${seg(id)}`);
  }

  async delete(id: string): Promise<void> {
    await this.http.request('DELETE', `/v1/datasets/${seg(id)}`);
  }

  /**
   * Waits until validation has finished and returns the ready dataset. A dataset that failed
   * validation throws DATASET_INVALID with its problems (`errors`: file, line, message) as
   * details. Datasets have no event stream, so this polls, from 100 ms up to every 2 s.
   */
  async waitUntilReady(id: string, o: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Dataset> {
    const deadline = Date.now() + (o.timeoutMs ?? 10 * 60_000);
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      const ds = await this.get(id);
      if (ds.status === 'ready') return ds;
      if (ds.status === 'error') {
        throw new TrainyardError(422, 'DATASET_INVALID', `dataset ${id} failed validation`, { details: { errors: ds.errors, error_count: ds.error_count } });
      }
      if (Date.now() >= deadline) throw new TrainyardError(0, 'TIMEOUT', `dataset ${id} still ${ds.status} after ${o.timeoutMs ?? 600_000} ms`);
      await sleep(delay, o.signal);
    }
  }
}

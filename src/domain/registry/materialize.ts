import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Queryable } from '../../db/db.js';
import type { BlobStore } from '../../storage/blob-store.js';
import * as q from './queries.js';
import { isModelFile } from './run-log.js';

/**
 * A version's artifacts as files named after the artifacts: what warm-started trainers (the
 * worker's staging) and predictors (serving) read. `onBytes` sees the running total, for load
 * progress. Returns the bytes written. The run's events file stays out: it is no part of the model.
 */
export async function materializeVersion(db: Queryable, store: BlobStore, versionId: string, into: string, onBytes?: (n: number) => void): Promise<number> {
  await mkdir(into, { recursive: true });
  let total = 0;
  for (const a of (await q.artifacts(db, [versionId])).filter(isModelFile)) {
    await pipeline(await store.get(a.storage_key), createWriteStream(path.join(into, a.name)));
    total += a.bytes;
    onBytes?.(total);
  }
  return total;
}

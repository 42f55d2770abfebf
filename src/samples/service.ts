import { Readable } from 'node:stream';
import type { DatasetsService } from '../domain/datasets/service.js';
import type { FilesService } from '../domain/files/service.js';
import { ValidationError } from '../errors.js';
import { makeSample } from './index.js';
import { SAMPLE_API_MAX, SAMPLE_API_MIN, type CreateSampleInput } from './schema.js';

/** Generates a sample, uploads its files as the caller's, and creates the dataset from them. */
export async function createSampleDataset(s: { files: FilesService; datasets: DatasetsService }, ownerId: string, input: CreateSampleInput) {
  const max = SAMPLE_API_MAX[input.kind];
  if (input.size !== undefined && input.size > max)
    throw new ValidationError('SAMPLE_TOO_LARGE', `${input.kind}: size at most ${max} (trainyard sample-data makes larger ones on disk)`, { max });
  const min = SAMPLE_API_MIN[input.kind];
  if (input.size !== undefined && input.size < min) throw new ValidationError('SAMPLE_TOO_SMALL', `${input.kind}: size at least ${min}`, { min });
  const sample = await makeSample(input.kind, input.size, input.seed);
  const ids: string[] = [];
  try {
    for (const f of sample.files) ids.push((await s.files.ingest(ownerId, f.name, Readable.from([f.data]), 'upload')).id);
    return await s.datasets.create(ownerId, {
      name: input.name ?? `sample-${input.kind}-${Date.now().toString(36)}`,
      kind: sample.datasetKind,
      file_ids: ids,
      description: sample.description,
      ...(Object.keys(sample.options).length ? { options: sample.options } : {}),
    });
  } catch (err) {
    // The dataset was refused (its name taken or invalid, the quota reached): the files made for
    // it go too, or each retry would store another sample's worth (200 images).
    await Promise.all(ids.map((id) => s.files.delete(ownerId, id).catch(() => {})));
    throw err;
  }
}

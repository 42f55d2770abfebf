import { Readable } from 'node:stream';
import type { DatasetsService } from '../domain/datasets/service.js';
import type { FilesService } from '../domain/files/service.js';
import { makeSample } from './index.js';
import type { CreateSampleInput } from './schema.js';

/** Generates a sample, uploads its files as the caller's, and creates the dataset from them. */
export async function createSampleDataset(s: { files: FilesService; datasets: DatasetsService }, ownerId: string, input: CreateSampleInput) {
  const sample = await makeSample(input.kind, input.size, input.seed);
  const ids: string[] = [];
  for (const f of sample.files) ids.push((await s.files.ingest(ownerId, f.name, Readable.from([f.data]), 'upload')).id);
  return s.datasets.create(ownerId, {
    name: input.name ?? `sample-${input.kind}-${Date.now().toString(36)}`,
    kind: sample.datasetKind,
    file_ids: ids,
    description: sample.description,
    ...(Object.keys(sample.options).length ? { options: sample.options } : {}),
  });
}

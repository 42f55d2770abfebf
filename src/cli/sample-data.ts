import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AppError } from '../errors.js';
import { makeSample } from '../samples/index.js';
import { SAMPLE_KINDS, type SampleKind } from '../samples/schema.js';

/** `trainyard sample-data <kind>`: writes a synthetic dataset to a folder, to try the trainers on. */
export async function sampleDataCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' } },
  });
  const kind = positionals[0] as SampleKind | undefined;
  if (!kind || !(SAMPLE_KINDS as readonly string[]).includes(kind)) throw new AppError('USAGE', `sample-data needs a kind: ${SAMPLE_KINDS.join(', ')}`);
  const out = path.resolve(values.out ?? path.join('samples', kind));
  const sample = await makeSample(kind, values.size ? Number(values.size) : undefined, values.seed ? Number(values.seed) : undefined);
  await mkdir(out, { recursive: true });
  for (const f of sample.files) await writeFile(path.join(out, f.name), f.data);
  console.log(
    `${sample.description}\nwrote ${sample.files.length} file(s) to ${out} — create it as a "${sample.datasetKind}" dataset${sample.options.label_column ? ` with options.label_column "${sample.options.label_column}"` : ''}, or use POST /v1/datasets/samples`,
  );
}

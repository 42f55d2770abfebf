// catalog.json's optional trainer fields: default_base_model and estimate (issue #12), resources.gpu_when (issue #15).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gpuWhenProblem, wantsOptionalGpu } from '../../src/domain/catalog/gpu.js';
import { CatalogService } from '../../src/domain/catalog/service.js';

let dir: string | null = null;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

async function load(trainers: unknown[]) {
  dir = await mkdtemp(path.join(tmpdir(), 'trainyard-catalog-'));
  await writeFile(path.join(dir, 'catalog.json'), JSON.stringify({ trainers }));
  const c = new CatalogService(dir, { probe: async () => null });
  await c.load();
  return c;
}

describe('catalog.json: default_base_model and estimate', () => {
  it.each([
    [{ estimate: { seconds_per_unit: 0 } }, /estimate must be/],
    [{ estimate: { seconds_per_unit: '3' } }, /estimate must be/],
    [{ estimate: { param: '' } }, /estimate must be/],
    [{ default_base_model: 'Not An Id' }, /default_base_model must be a base model id/],
  ])('refuses %j naming the entry', async (o, message) => {
    await expect(load([{ id: 'lora-diffusion', ...o }])).rejects.toThrow(message);
  });

  it('settles the estimate param: the named one, else the first work counter a training trainer takes, else none', async () => {
    const c = await load([
      { id: 'lora-diffusion', estimate: { seconds_per_unit: 2.5 }, default_base_model: 'my-sd' },
      { id: 'hf-sequence-classifier', estimate: { param: 'max_length' } },
    ]);
    expect(c.trainer('lora-diffusion')).toMatchObject({ estimate: { param: 'steps', seconds_per_unit: 2.5 }, default_base_model: 'my-sd' });
    expect(c.trainer('hf-sequence-classifier').estimate).toEqual({ param: 'max_length' });
    expect(c.trainer('lora-causal-lm').estimate).toEqual({ param: 'epochs' });
    // Inference has no work counter: nothing to scale an estimate by.
    expect(c.trainer('diffusion-generate')).toMatchObject({ estimate: null, default_base_model: null });
    expect(c.largestImageSet()).toBe(30);
  });
});

describe('catalog.json: resources.gpu_when', () => {
  it.each([
    [{ gpu_when: { arch: ['transformer'] } }, /names "arch", which is not one of the trainer's hyperparameters/],
    [{ gpu_when: { architecture: ['transfromer'] } }, /gpu_when.architecture: "transfromer" is not one of \["fasttext","transformer"\]/],
    [{ gpu_when: { architecture: [] } }, /must be a non-empty list/],
    [{ gpu_when: ['transformer'] }, /must be an object/],
  ])('refuses %j naming the entry', async (o, message) => {
    const resources = { gpus: 1, gpu_optional: true, memory_mb: 2048, ...o };
    await expect(load([{ id: 'text-classifier', resources }])).rejects.toThrow(new RegExp(`entry text-classifier: .*${message.source}`));
  });

  it('every built-in names real hyperparameters and values, and hands a GPU only to the loops that use one', async () => {
    const c = await load([]);
    for (const t of c.listTrainers()) expect(gpuWhenProblem(t), t.id).toBeNull();
    const seq = c.trainer('sequence-classifier');
    expect(wantsOptionalGpu(seq, {})).toBe(true); // model_type and backend auto by default
    expect(wantsOptionalGpu(seq, { model_type: 'auto', backend: 'auto' })).toBe(true);
    expect(wantsOptionalGpu(seq, { model_type: 'minirocket', backend: 'torch' })).toBe(false);
    expect(wantsOptionalGpu(seq, { model_type: 'resnet_lstm', backend: 'tfjs' })).toBe(false);
    // A trainer that is not gpu_optional is never handed one it did not ask for.
    expect(wantsOptionalGpu(c.trainer('linear-classifier'), {})).toBe(false);
    expect(wantsOptionalGpu(c.trainer('text-classifier'), { architecture: 'transformer', backend: 'torch' })).toBe(false);
  });
});

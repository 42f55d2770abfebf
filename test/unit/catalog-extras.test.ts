// catalog.json's optional trainer fields from issue #12: default_base_model and estimate.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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

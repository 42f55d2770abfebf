import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_TRAINERS } from '../../src/domain/catalog/builtin.js';
import type { TrainerDef } from '../../src/domain/catalog/types.js';
import { versionAttributes } from '../../src/domain/catalog/version-fields.js';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { predictorModule, runtimeProbe, trainerCommand } from '../../src/trainers/runtimes/index.js';

const byId = (id: string): TrainerDef => BUILTIN_TRAINERS.find((t) => t.id === id)!;
const ctx = { python: '/opt/py/bin/python' };

describe('trainer runtimes', () => {
  it('start a built-in trainer from its folder, a Python pack as a module, a command as given', () => {
    const builtin = trainerCommand(byId('linear-classifier'), ctx);
    expect(builtin.argv[0]).toBe(process.execPath);
    expect(builtin.argv.at(-1)).toMatch(new RegExp(`src\\${path.sep}trainers\\${path.sep}builtin\\${path.sep}linear-classifier\\${path.sep}main\\.(ts|js)$`));
    expect(builtin.env).toEqual({});
    const py = trainerCommand(byId('lora-diffusion'), ctx);
    expect(py.argv).toEqual([ctx.python, '-m', 'trainyard_lora_diffusion']);
    expect(py.env).toMatchObject({ HF_HUB_OFFLINE: '1', PYTHONPATH: expect.any(String) });
    const cmd = { ...byId('linear-classifier'), id: 'custom', runtime: { type: 'command', entry: '', command: ['/bin/echo', 'hi'] } } satisfies TrainerDef;
    expect(trainerCommand(cmd, ctx)).toEqual({ argv: ['/bin/echo', 'hi'], env: {} });
  });

  it('probe availability, and name an unknown runtime type instead of guessing', async () => {
    const probe = runtimeProbe(ctx);
    expect(await probe.check(byId('text-classifier'))).toBeNull();
    expect(await probe.check(byId('lora-diffusion'))).toMatch(/no Python trainer environment/);
    expect(await probe.check({ ...byId('linear-classifier'), runtime: { type: 'builtin', entry: 'nope' } })).toMatch(/not part of this build/);
    expect(await probe.check({ ...byId('linear-classifier'), runtime: { type: 'command', entry: '', command: ['/no/such/exe'] } })).toMatch(/does not exist/);
    expect(await probe.check({ ...byId('linear-classifier'), runtime: { type: 'ruby' as 'command', entry: 'x' } })).toMatch(/unknown runtime type "ruby"/);
  });

  it('say which trainers can be served', () => {
    expect(predictorModule(byId('sequence-classifier'), ctx)).not.toBeNull();
    expect(predictorModule({ ...byId('linear-classifier'), runtime: { type: 'command', entry: '', command: ['/bin/true'] } }, ctx)).toBeNull();
    expect(predictorModule(byId('hf-sequence-classifier'), ctx)).not.toBeNull(); // its pack ships predict.py
  });
});

describe('catalog entries', () => {
  it('record on the model only the hyperparameters their version_fields name', () => {
    expect(versionAttributes(byId('lora-diffusion'), { trigger_word: 'sks' })).toEqual({ triggerWord: 'sks' });
    expect(versionAttributes(byId('linear-classifier'), { trigger_word: 'sks' })).toEqual({ triggerWord: null });
    expect(versionAttributes({ version_fields: { trigger_word: 'token' } }, { token: 42 })).toEqual({ triggerWord: null });
  });

  it('fill a hand-written spec with the schema defaults, and reject what the server would', () => {
    expect(specHyperparameters(byId('linear-classifier'), { epochs: 3 })).toEqual({
      epochs: 3,
      learning_rate: 0.1,
      batch_size: 32,
      l2: 0,
      validation_split: 0.2,
      seed: 42,
    });
    expect(() => specHyperparameters(byId('lora-diffusion'), {})).toThrow(expect.objectContaining({ code: 'INVALID_HYPERPARAMETERS' }));
  });
});

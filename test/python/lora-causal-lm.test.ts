import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { client, TestApp } from '../helpers/app.js';
import { downloadVersion, jsonlDataset, registerBaseModel, startPythonApp } from '../helpers/python-app.js';
import { HAVE_PYTHON, pythonSnippet } from '../helpers/python.js';
import { waitForJob } from '../helpers/wait.js';

// Seed 004's LLM fine-tuning on a tiny random Llama, through the API: LoRA on CPU (the 4-bit
// QLoRA request falls back, and says so), eval loss and perplexity, a PEFT adapter that
// PeftModel.from_pretrained loads, and a clear failure for target modules the model lacks.
let t: TestApp;
let api: ReturnType<typeof client>;
let u: { token: string; id: string };
let chat: string;

const COLOURS: Record<string, string> = {
  apple: 'red',
  banana: 'yellow',
  grass: 'green',
  sky: 'blue',
  snow: 'white',
  coal: 'black',
  plum: 'violet',
  orange: 'orange',
};
const things = Object.keys(COLOURS);
const conversations = Array.from({ length: 40 }, (_, i) => {
  const thing = things[i % things.length]!;
  const system = i % 2 ? [{ role: 'system', content: 'Answer in one word.' }] : [];
  return { messages: [...system, { role: 'user', content: `What colour is the ${thing}?` }, { role: 'assistant', content: COLOURS[thing] }] };
});
const HP = {
  epochs: 4,
  learning_rate: 0.02,
  batch_size: 4,
  gradient_accumulation_steps: 1,
  lora_rank: 8,
  lora_alpha: 16,
  lora_dropout: 0,
  max_seq_length: 64,
  quantization: '4bit',
  seed: 1,
  checkpoint_every: 10,
};

describe.skipIf(!HAVE_PYTHON)('lora-causal-lm', () => {
  let modelDir: string;
  beforeAll(async () => {
    const app = await startPythonApp('tiny-llama');
    ({ t, api, modelDir } = app);
    await registerBaseModel(api, app.admin, 'tiny-llama', modelDir, 'llama', ['lora-causal-lm']);
    u = await api.user('tuner');
    chat = await jsonlDataset(api, u.token, 'colours', 'chat-jsonl', conversations);
  }, 180_000);
  afterAll(async () => t?.close());

  it('fine-tunes with LoRA: eval loss falls, perplexity reported, the adapter loads with PEFT and changes the model', async () => {
    const r = await api.post(
      '/v1/jobs',
      { trainer: 'lora-causal-lm', dataset_id: chat, base_model: 'tiny-llama', hyperparameters: HP, output: { model_name: 'colours' } },
      u.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.cost).toBe(45); // 5 + 10 per epoch
    const done = await waitForJob(api, u.token, r.body.id, undefined, 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    const m = done.result.metrics;
    expect(m.eval_loss).toBeLessThan(m.first_eval_loss * 0.7);
    expect(m.perplexity).toBeCloseTo(Math.exp(m.eval_loss), 3);
    expect(m.tokens_per_second).toBeGreaterThan(0);
    expect(done.result.details.quantization_used).toBe('none');
    const logs = (await api.get(`/v1/jobs/${r.body.id}/logs`, u.token)).body.data.map((l: any) => l.message).join('\n');
    expect(logs).toMatch(/4-?bit/i);

    const series = (await api.get(`/v1/jobs/${r.body.id}/metrics`, u.token)).body.metrics;
    expect(series.eval_loss.length).toBeGreaterThanOrEqual(HP.epochs);
    expect(series.perplexity.length).toBeGreaterThanOrEqual(HP.epochs);

    const v = (await api.get('/v1/models/colours/versions/1', u.token)).body;
    expect(v.artifacts.map((a: any) => a.name)).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'README.md']));
    const dir = await downloadVersion(api, u.token, 'colours', 1);
    const out = await pythonSnippet(
      `import sys, json, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel
base = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
tok = AutoTokenizer.from_pretrained(sys.argv[1])
ids = tok("What colour is the sky?", return_tensors="pt")
with torch.no_grad():
    before = base(**ids).logits.clone()
    tuned = PeftModel.from_pretrained(base, sys.argv[2]).eval()
    after = tuned(**ids).logits
print(json.dumps({"peft_type": tuned.peft_config["default"].peft_type.value, "r": tuned.peft_config["default"].r, "changed": float((after - before).abs().max())}))`,
      [modelDir, dir],
    );
    const loaded = JSON.parse(out.trim().split('\n').pop()!);
    expect(loaded).toMatchObject({ peft_type: 'LORA', r: 8 });
    expect(loaded.changed).toBeGreaterThan(1e-3);
  });

  it('trains on plain-text lines with packing', async () => {
    const text = await jsonlDataset(
      api,
      u.token,
      'colour-facts',
      'chat-jsonl',
      Array.from({ length: 40 }, (_, i) => ({ text: `The ${things[i % 8]} is ${COLOURS[things[i % 8]!]}.` })),
    );
    const r = await api.post(
      '/v1/jobs',
      {
        trainer: 'lora-causal-lm',
        dataset_id: text,
        base_model: 'tiny-llama',
        hyperparameters: { ...HP, packing: true, epochs: 3 },
        output: { model_name: 'colour-facts' },
      },
      u.token,
    );
    const done = await waitForJob(api, u.token, r.body.id, undefined, 240_000);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.result.metrics.eval_loss).toBeLessThan(done.result.metrics.first_eval_loss);
  });

  it('fails clearly on target modules the model does not have, and gives the credits back', async () => {
    const before = (await api.get('/v1/credits/balance', u.token)).body.balance as number;
    const r = await api.post(
      '/v1/jobs',
      {
        trainer: 'lora-causal-lm',
        dataset_id: chat,
        base_model: 'tiny-llama',
        hyperparameters: { ...HP, epochs: 1, target_modules: ['c_attn'] },
        output: { model_name: 'broken' },
      },
      u.token,
    );
    const done = await waitForJob(api, u.token, r.body.id, undefined, 120_000);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'TRAINER_FAILED' } });
    expect(done.error.message).toMatch(/TARGET_MODULES_NOT_FOUND.*q_proj/);
    expect((await api.get('/v1/credits/balance', u.token)).body).toMatchObject({ balance: before, held: 0 });
  });
});

import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HAVE_PYTHON, TEST_PYTHON } from '../helpers/python.js';

// bench/gpu.sh is meant for a GPU machine nobody has at hand; its CPU smoke run (--tiny: the
// same rows, tiny models, one process) runs here so the script cannot rot unnoticed. Figures are
// not checked for speed, only that every row produced positive ones.
const ROWS: [string, string, string][] = [
  ['lora-causal-lm', 'bf16 LoRA', 'baseline'],
  ['lora-causal-lm', 'bf16 LoRA', 'pack'],
  ['lora-causal-lm', '4-bit QLoRA', 'baseline'],
  ['lora-causal-lm', '4-bit QLoRA', 'pack'],
  ['lora-causal-lm', 'ablation: pack: packing, SDPA, fused AdamW, bf16 (base of the ablation)', 'pack'],
  ['lora-causal-lm', 'ablation: eager attention', 'pack'],
  ['lora-causal-lm', 'ablation: no packing (pad to longest)', 'pack'],
  ['lora-causal-lm', 'ablation: gradient checkpointing on', 'pack'],
  ['lora-causal-lm', 'ablation: AdamW not fused', 'pack'],
  ['lora-causal-lm', 'ablation: fp32 base weights', 'pack'],
  ['lora-causal-lm', 'ablation: 4-bit, gradient checkpointing off', 'pack'],
  ['lora-causal-lm', 'ablation: loss from the full logits (chunked loss off)', 'pack'],
  ['lora-diffusion', 'SD 1.5 UNet LoRA', 'reference'],
  ['sequence-classifier', 'original', 'cpu'],
  ['sequence-classifier', 'enhanced_cnn_lstm', 'cpu'],
  ['sequence-classifier', 'resnet_lstm', 'cpu'],
  ['sequence-classifier', 'transformer', 'cpu'],
  ['text-classifier', 'transformer', 'cpu'],
];

function run(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bench/gpu.sh',
      ['--tiny'],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TRAINYARD_PYTHON: TEST_PYTHON },
        timeout: 600_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => (err ? reject(new Error(`bench/gpu.sh failed: ${stderr.trim().split('\n').slice(-8).join('\n')}`)) : resolve(stdout)),
    );
  });
}

describe.skipIf(!HAVE_PYTHON)('bench/gpu.sh --tiny', () => {
  it('prints one table with positive speed and memory for every row', async () => {
    const out = await run();
    expect(out).toContain('CPU smoke run: not GPU figures');
    const rows = out
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| trainer'))
      .map((l) => l.split('|').map((c) => c.trim()));
    const find = (b: string, c: string, s: string) => rows.find((r) => r[1] === b && r[2] === c && r[3] === s);
    for (const [bench, config, side] of ROWS) {
      const r = find(bench, config, side);
      expect(r, `${bench} / ${config} / ${side}: ${r?.[10] ?? 'missing'}`).toBeDefined();
      expect(parseFloat(r![4]!.replace(/,/g, '')), `${bench} / ${config} speed`).toBeGreaterThan(0);
      expect(parseFloat(r![5]!.replace(/,/g, '')), `${bench} / ${config} memory`).toBeGreaterThan(0);
    }
    // The pack's diffusion rows (checkpointing on and off) carry ratios against the reference.
    const diffusion = rows.filter((r) => r[1] === 'lora-diffusion' && r[3] === 'pack');
    expect(diffusion).toHaveLength(2);
    for (const r of diffusion) expect(parseFloat(r[6]!)).toBeGreaterThan(0);
    expect(parseFloat(find('lora-causal-lm', 'bf16 LoRA', 'pack')![6]!)).toBeGreaterThan(0);
    // torch.compile is measured on a GPU only, and says so.
    expect(find('lora-causal-lm', 'ablation: torch.compile', 'pack')?.[10]).toContain('GPU only');
  }, 600_000);
});

import { execFile } from 'node:child_process';
import { packEnv } from './env.js';

/**
 * Tiny, randomly initialised models built from configs by the packs themselves (no download):
 * enough to try every Python trainer end to end on a CPU in seconds. They learn, but they are
 * not useful models.
 */
export const SAMPLE_MODELS = {
  'tiny-stable-diffusion': { module: 'trainyard_lora_diffusion.tiny', architecture: 'stable-diffusion', trainers: ['lora-diffusion', 'diffusion-generate'] },
  'tiny-llama': { module: 'trainyard_lora_causal_lm.tiny', architecture: 'llama', trainers: ['lora-causal-lm'] },
  'tiny-bert': { module: 'trainyard_hf_sequence_classifier.tiny', architecture: 'bert', trainers: ['hf-sequence-classifier'] },
  'tiny-videomae': { module: 'trainyard_video_lora.tiny_videomae', architecture: 'videomae', trainers: ['video-lora-classifier'] },
  'tiny-idefics': { module: 'trainyard_video_lora.tiny_idefics', architecture: 'idefics', trainers: ['video-lora-captioner'] },
  'tiny-video-llava': { module: 'trainyard_video_lora.tiny_video_llava', architecture: 'video_llava', trainers: ['video-lora-captioner'] },
} as const;

export type SampleModel = keyof typeof SAMPLE_MODELS;

export function buildSampleModel(
  python: string,
  kind: SampleModel,
  out: string,
  seed = 0,
): Promise<{ path: string; architecture: string; trainers: readonly string[] }> {
  const m = SAMPLE_MODELS[kind];
  return new Promise((resolve, reject) => {
    execFile(
      python,
      ['-m', m.module, out, '--seed', String(seed)],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...packEnv() }, maxBuffer: 4 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${m.module} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || err.message}`));
        resolve({ path: out, architecture: m.architecture, trainers: m.trainers });
      },
    );
  });
}

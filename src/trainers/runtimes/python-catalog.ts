import type { TrainerDef } from '../../domain/catalog/types.js';
import { SEED, VALIDATION_SPLIT } from '../catalog-schema.js';

/**
 * The catalog entries of the Python packs under trainers/python (run by ./python.ts); the
 * built-in TypeScript trainers keep theirs beside their code. Ranges and defaults follow the
 * training APIs Trainyard stands in for (image-LoRA services, a text-classification
 * fine-tuning API, an LLM QLoRA orchestrator), so their clients' requests validate unchanged.
 */
export const PYTHON_TRAINERS: TrainerDef[] = [
  {
    id: 'lora-diffusion',
    title: 'Image LoRA (DreamBooth)',
    task: 'text-to-image-lora',
    description: 'A LoRA for a Stable-Diffusion-family model from 10-30 pictures of a subject or style, with a trigger word.',
    dataset: { kinds: ['image-set'], min_images: 10, max_images: 30 },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      required: ['trigger_word'],
      properties: {
        trigger_word: { type: 'string', minLength: 1, maxLength: 50, pattern: '^[A-Za-z0-9_-]+$' },
        instance_prompt: { type: 'string', maxLength: 500, description: 'Defaults to "a photo of <trigger_word>"' },
        class_prompt: { type: 'string', maxLength: 500, description: 'Enables prior preservation' },
        // Seed 000's 600 / 1200 / 2000 are presets and pricing tiers, not the only valid values.
        steps: { type: 'integer', minimum: 1, maximum: 2000, default: 600, description: 'Optimizer steps; priced by tier: up to 600, 1200, 2000' },
        learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 0.1, default: 0.0001 },
        batch_size: { type: 'integer', minimum: 1, maximum: 32, default: 1 },
        rank: { type: 'integer', minimum: 1, maximum: 128, default: 16 },
        alpha: { type: 'integer', minimum: 1, maximum: 256, default: 16 },
        resolution: {
          type: 'integer',
          minimum: 32,
          maximum: 1024,
          multipleOf: 8,
          default: 512,
          description: 'Training images are resized and center-cropped to this square size',
        },
        // Off by default since bench/gpu.sh on an H200 (SD 1.5 UNet, 512 px, batch 1): on, 3.7 steps/s
        // and 2.3 GB; off, 7.2 steps/s and 3.2 GB, the diffusers reference's speed and memory.
        gradient_checkpointing: {
          type: 'boolean',
          default: false,
          description: 'Recompute UNet activations in the backward pass: about half the speed for less memory (large resolutions or batches on a small GPU)',
        },
        checkpoint_every: { type: 'integer', minimum: 1, maximum: 10_000, default: 200 },
        preview_steps: {
          type: 'integer',
          minimum: 1,
          maximum: 150,
          default: 25,
          description: 'Denoising steps of the preview image made with the trigger word (and of each sample image)',
        },
        sample_every: {
          type: 'integer',
          minimum: 0,
          maximum: 10_000,
          default: 0,
          description: 'Render sample images every this many steps (and at the last step) with a fixed seed; 0: no samples',
        },
        sample_prompts: {
          type: 'array',
          items: { type: 'string', minLength: 1, maxLength: 500 },
          minItems: 1,
          maxItems: 4,
          description: 'Prompts of the samples ({trigger_word} is filled in); default: the instance prompt',
        },
        seed: SEED,
      },
    },
    primary_metric: { name: 'loss', goal: 'minimize' },
    // Runs on CPU when no GPU is free: fine for tiny models and tests, slow for real ones.
    // A deployment that must not do that sets gpu_optional false in catalog.json.
    resources: { gpus: 1, gpu_optional: true, memory_mb: 16_384 },
    pricing: {
      type: 'tiers',
      param: 'steps',
      tiers: [
        { up_to: 600, credits: 10 },
        { up_to: 1200, credits: 20 },
        { up_to: 2000, credits: 35 },
      ],
    },
    base_models: 'required',
    default_base_model: 'stable-diffusion-v1-5',
    // About a second a step for SD 1.5 at 512 px on one GPU, loading included; measured runs
    // on the deployment replace it (jobs/estimate.ts).
    estimate: { param: 'steps', seconds_per_unit: 1 },
    // The model remembers the word that invokes it (GET /v1/models/{name} shows it).
    version_fields: { trigger_word: 'trigger_word' },
    runtime: { type: 'python', entry: 'lora_diffusion' },
  },
  {
    id: 'lora-causal-lm',
    title: 'LLM fine-tuning (LoRA / QLoRA)',
    task: 'causal-lm-sft',
    description: 'Supervised fine-tuning of a causal language model with PEFT LoRA; 4-bit QLoRA on CUDA.',
    dataset: { kinds: ['chat-jsonl'], min_rows: 10 },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        epochs: { type: 'integer', minimum: 1, maximum: 50, default: 3 },
        learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 0.1, default: 0.0002 },
        batch_size: { type: 'integer', minimum: 1, maximum: 256, default: 4 },
        gradient_accumulation_steps: { type: 'integer', minimum: 1, maximum: 256, default: 4 },
        lora_rank: { type: 'integer', minimum: 1, maximum: 256, default: 16 },
        lora_alpha: { type: 'integer', minimum: 1, maximum: 512, default: 32 },
        lora_dropout: { type: 'number', minimum: 0, maximum: 0.5, default: 0.05 },
        target_modules: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_.]+$' }, minItems: 1, maxItems: 32, default: ['q_proj', 'v_proj'] },
        max_seq_length: { type: 'integer', minimum: 16, maximum: 32_768, default: 1024 },
        packing: { type: 'boolean', default: false },
        quantization: { type: 'string', enum: ['none', '4bit'], default: '4bit', description: '4bit (QLoRA) needs CUDA; falls back to none on CPU' },
        gradient_checkpointing: {
          type: 'boolean',
          description: 'Recompute activations in the backward pass (less memory, ~⅓ more compute); unset = on with 4bit only',
        },
        attn_implementation: { type: 'string', enum: ['sdpa', 'eager'], default: 'sdpa' },
        fused_adamw: { type: 'boolean', default: true, description: 'Fused AdamW kernel on CUDA' },
        torch_compile: { type: 'boolean', default: false, description: 'torch.compile the model (pays on long runs; the first steps compile)' },
        chunked_loss: {
          type: 'boolean',
          default: true,
          description:
            'Output layer and cross-entropy in chunks of trained tokens: the same loss without the whole logits tensor (GBs at a 128k vocabulary); falls back by itself where the model is not plain',
        },
        validation_split: { ...VALIDATION_SPLIT, default: 0.1 },
        warmup_ratio: { type: 'number', minimum: 0, maximum: 0.5, default: 0.03 },
        checkpoint_every: { type: 'integer', minimum: 1, maximum: 100_000, default: 100, description: 'Optimizer steps between checkpoints' },
        seed: SEED,
      },
    },
    primary_metric: { name: 'eval_loss', goal: 'minimize' },
    resources: { gpus: 1, gpu_optional: true, memory_mb: 24_576 },
    pricing: { type: 'linear', param: 'epochs', base: 5, per_unit: 10 },
    base_models: 'required',
    default_base_model: 'llama-3.2-1b',
    supports_warm_start: true,
    runtime: { type: 'python', entry: 'lora_causal_lm' },
  },
  {
    id: 'hf-sequence-classifier',
    title: 'Transformer text classifier',
    task: 'text-classification',
    description:
      'Fine-tunes a BERT-family encoder (BERT, DistilBERT, RoBERTa…) for text classification, with evaluation per epoch and best-checkpoint selection.',
    dataset: { kinds: ['text-classification-jsonl'], min_rows: 10 },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_length: { type: 'integer', minimum: 8, maximum: 4096, default: 256 },
        batch_size: { type: 'integer', minimum: 1, maximum: 512, default: 16 },
        learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 0.01, default: 0.00002 },
        num_epochs: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
        warmup_steps: { type: 'integer', minimum: 0, maximum: 100_000, default: 100 },
        weight_decay: { type: 'number', minimum: 0, maximum: 1, default: 0.01 },
        metric_for_best_model: { type: 'string', enum: ['accuracy', 'f1', 'precision', 'recall', 'loss'], default: 'f1' },
        greater_is_better: { type: 'boolean', default: true },
        validation_split: VALIDATION_SPLIT,
        eval_steps: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Evaluate every N steps (default: at the end of each epoch)' },
        checkpoint_every: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 200 },
        seed: SEED,
      },
    },
    primary_metric: { name: 'val_f1', goal: 'maximize' },
    resources: { gpus: 1, gpu_optional: true, memory_mb: 8192 },
    pricing: { type: 'linear', param: 'num_epochs', base: 2, per_unit: 5 },
    base_models: 'required',
    default_base_model: 'deberta-v3-base',
    supports_warm_start: true,
    supports_test_set: true,
    runtime: { type: 'python', entry: 'hf_sequence_classifier' },
  },
  {
    id: 'video-lora-classifier',
    title: 'Video classifier (LoRA)',
    task: 'video-classification',
    description:
      'Fine-tunes a VideoMAE-style video encoder for classification: a new head for the dataset labels and PEFT LoRA on its attention projections; 4-bit QLoRA on CUDA.',
    // The trainer checks the manifest's label / caption column itself (INVALID_DATASET names the row).
    dataset: { kinds: ['video-set'] },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...videoLoraParams({
          learning_rate: 0.001,
          batch_size: 4,
          lora_rank: 8,
          lora_alpha: 16,
          target_modules: ['query', 'value'],
          quantization: 'none',
          num_frames: 16,
        }),
        validation_split: VALIDATION_SPLIT,
        seed: SEED,
      },
    },
    primary_metric: { name: 'val_f1', goal: 'maximize' },
    resources: { gpus: 1, gpu_optional: true, memory_mb: 16_384 },
    pricing: { type: 'linear', param: 'epochs', base: 2, per_unit: 5 },
    base_models: 'required',
    default_base_model: 'videomae-base',
    supports_warm_start: true,
    runtime: { type: 'python', entry: 'video_lora.classify' },
  },
  {
    id: 'video-lora-captioner',
    title: 'Video captioner (LoRA / QLoRA)',
    task: 'video-captioning',
    description:
      'Fine-tunes a vision-language model to caption videos from uniformly sampled frames, Flamingo-style (IDEFICS cross-attention) or LLaVA-style (Video-LLaVA projector), with PEFT LoRA; 4-bit QLoRA on CUDA.',
    // The trainer checks the manifest's label / caption column itself (INVALID_DATASET names the row).
    dataset: { kinds: ['video-set'] },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...videoLoraParams({
          learning_rate: 0.0002,
          batch_size: 2,
          lora_rank: 16,
          lora_alpha: 32,
          target_modules: ['q_proj', 'v_proj'],
          quantization: '4bit',
          num_frames: 8,
        }),
        validation_split: VALIDATION_SPLIT,
        seed: SEED,
      },
    },
    primary_metric: { name: 'eval_loss', goal: 'minimize' },
    resources: { gpus: 1, gpu_optional: true, memory_mb: 32_768 },
    pricing: { type: 'linear', param: 'epochs', base: 5, per_unit: 10 },
    base_models: 'required',
    default_base_model: 'video-llava-7b',
    supports_warm_start: true,
    runtime: { type: 'python', entry: 'video_lora.caption' },
  },
  {
    id: 'diffusion-generate',
    kind: 'inference',
    title: 'Image generation',
    task: 'text-to-image',
    description: 'Runs a diffusers pipeline, with a LoRA from your models loaded, for POST /v1/generations: a job on the same queue as training.',
    dataset: { kinds: [] },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      required: ['prompt'],
      properties: {
        prompt: { type: 'string', minLength: 1, maxLength: 1000 },
        negative_prompt: { type: 'string', maxLength: 1000 },
        seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, description: 'Omit for a random seed; the one used is returned' },
        steps: { type: 'integer', minimum: 1, maximum: 150, default: 25 },
        guidance_scale: { type: 'number', minimum: 0, maximum: 30, default: 7.5 },
        width: { type: 'integer', minimum: 32, maximum: 2048, multipleOf: 8, description: "Default: the base model's native size" },
        height: { type: 'integer', minimum: 32, maximum: 2048, multipleOf: 8 },
      },
    },
    primary_metric: { name: 'inference_time_s', goal: 'minimize' },
    resources: { gpus: 1, gpu_optional: true, memory_mb: 8192 },
    pricing: { type: 'fixed', credits: 1 },
    base_models: 'required',
    runtime: { type: 'python', entry: 'lora_diffusion.generate' },
  },
];

/** The hyperparameters both video trainers take (seed 004's names), with each trainer's defaults. */
function videoLoraParams(d: {
  learning_rate: number;
  batch_size: number;
  lora_rank: number;
  lora_alpha: number;
  target_modules: string[];
  quantization: 'none' | '4bit';
  num_frames: number;
}) {
  return {
    epochs: { type: 'integer', minimum: 1, maximum: 50, default: 3, description: 'Passes over the training clips' },
    learning_rate: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 0.1,
      default: d.learning_rate,
      description: 'AdamW learning rate of the adapter (and head)',
    },
    batch_size: { type: 'integer', minimum: 1, maximum: 64, default: d.batch_size, description: 'Clips per optimizer step' },
    lora_rank: { type: 'integer', minimum: 1, maximum: 256, default: d.lora_rank, description: 'Rank of the LoRA update matrices' },
    lora_alpha: {
      type: 'integer',
      minimum: 1,
      maximum: 512,
      default: d.lora_alpha,
      description: 'LoRA scaling: the update is multiplied by lora_alpha / lora_rank',
    },
    lora_dropout: { type: 'number', minimum: 0, maximum: 0.5, default: 0.05, description: 'Dropout on the LoRA input' },
    target_modules: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z0-9_.]+$' },
      minItems: 1,
      maxItems: 32,
      default: d.target_modules,
      description: "Names (dotted-name suffixes) of the linear layers that get LoRA; a clear error lists the model's own when none match",
    },
    quantization: {
      type: 'string',
      enum: ['none', '4bit'],
      default: d.quantization,
      description: '4bit: QLoRA (NF4 base weights, bitsandbytes) on CUDA; on CPU it falls back to plain LoRA and logs so',
    },
    num_frames: { type: 'integer', minimum: 1, maximum: 64, default: d.num_frames, description: 'Frames sampled uniformly over each clip' },
    frame_size: {
      type: 'integer',
      minimum: 16,
      maximum: 1024,
      description: "Frames are resized to frame_size × frame_size; default: the base model's input size",
    },
    checkpoint_every: { type: 'integer', minimum: 1, maximum: 100_000, default: 50, description: 'Optimizer steps between checkpoints' },
  };
}

import { linearClassifier } from '../../trainers/builtin/linear-classifier/catalog.js';
import { sequenceClassifier } from '../../trainers/builtin/sequence-classifier/catalog.js';
import { textClassifier } from '../../trainers/builtin/text-classifier/catalog.js';
import { PYTHON_TRAINERS } from '../../trainers/runtimes/python-catalog.js';
import type { BaseModel, TrainerDef } from './types.js';

/**
 * The trainers Trainyard ships, in the order GET /v1/trainers lists them. Each entry lives
 * beside its trainer's code (the built-ins' catalog.ts; the Python packs' python-catalog.ts).
 * A deployment overrides or extends them with DATA_DIR/catalog.json.
 */
export const BUILTIN_TRAINERS: TrainerDef[] = [linearClassifier, sequenceClassifier, textClassifier, ...PYTHON_TRAINERS];

/** Base models point at local folders a deployment provides; nothing is downloaded at run time. */
export const BUILTIN_BASE_MODELS: BaseModel[] = [
  {
    id: 'stable-diffusion-v1-5',
    name: 'Stable Diffusion 1.5',
    description: 'Latent text-to-image diffusion at 512×512; the usual base for personal LoRAs.',
    architecture: 'stable-diffusion',
    trainers: ['lora-diffusion', 'diffusion-generate'],
    source: 'models/stable-diffusion-v1-5',
    supported_lora_params: { min_rank: 1, max_rank: 128, default_alpha: 16 },
  },
  {
    id: 'llama-3.2-1b',
    name: 'Llama 3.2 1B',
    description: 'A small decoder-only language model, suited to QLoRA on one GPU.',
    architecture: 'llama',
    trainers: ['lora-causal-lm'],
    source: 'models/llama-3.2-1b',
    supported_lora_params: { min_rank: 4, max_rank: 256, default_alpha: 32 },
  },
  {
    id: 'deberta-v3-base',
    name: 'DeBERTa v3 base',
    description: 'A BERT-family encoder for text classification (the default base model for hf-sequence-classifier).',
    architecture: 'deberta-v2',
    trainers: ['hf-sequence-classifier'],
    source: 'models/deberta-v3-base',
  },
  {
    id: 'distilbert-base-uncased',
    name: 'DistilBERT base (uncased)',
    description: 'A small, fast BERT-family encoder for text classification.',
    architecture: 'distilbert',
    trainers: ['hf-sequence-classifier'],
    source: 'models/distilbert-base-uncased',
  },
  {
    id: 'videomae-base',
    name: 'VideoMAE base',
    description: 'A ViT-B video encoder pre-trained by masked autoencoding (16 frames of 224×224): the base for video classification.',
    architecture: 'videomae',
    trainers: ['video-lora-classifier'],
    source: 'models/videomae-base',
    version: 'MCG-NJU/videomae-base',
    supported_lora_params: { min_rank: 1, max_rank: 64, default_alpha: 16 },
    model_type: 'video_classification',
    base_architecture: 'videomae',
  },
  {
    id: 'idefics-9b',
    name: 'IDEFICS 9B',
    description: 'The open Flamingo: a Llama language model reading images (here: video frames) through gated cross-attention.',
    architecture: 'idefics',
    trainers: ['video-lora-captioner'],
    source: 'models/idefics-9b',
    version: 'HuggingFaceM4/idefics-9b',
    supported_lora_params: { min_rank: 4, max_rank: 256, default_alpha: 32 },
    model_type: 'video_captioning',
    base_architecture: 'flamingo',
  },
  {
    id: 'video-llava-7b',
    name: 'Video-LLaVA 7B',
    description: 'A Vicuna language model fed projected per-frame features of a vision tower (Video-LLaMA/LLaVA style), 8 frames of 224×224.',
    architecture: 'video_llava',
    trainers: ['video-lora-captioner'],
    source: 'models/video-llava-7b',
    version: 'LanguageBind/Video-LLaVA-7B-hf',
    supported_lora_params: { min_rank: 4, max_rank: 256, default_alpha: 32 },
    model_type: 'video_captioning',
    base_architecture: 'video_llama',
  },
];

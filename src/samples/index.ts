import { eegCsv } from './eeg.js';
import { imageSet } from './images.js';
import { promptsJsonl } from './prompts.js';
import { videoSet } from './videos.js';

import type { SampleKind } from './schema.js';

export interface Sample {
  datasetKind: 'tabular-csv' | 'text-classification-jsonl' | 'image-set' | 'video-set';
  options: Record<string, string>;
  description: string;
  files: Array<{ name: string; data: Buffer }>;
}

/** `size`: rows for eeg, examples per class for security-prompts, images for images, clips per class for videos. */
export async function makeSample(kind: SampleKind, size?: number, seed?: number): Promise<Sample> {
  switch (kind) {
    case 'eeg':
      return {
        datasetKind: 'tabular-csv',
        options: { label_column: 'state' },
        description: 'Synthetic EEG band power (relaxed, focused, drowsy), 4 windows a second',
        files: [{ name: 'eeg-band-power.csv', data: Buffer.from(eegCsv(size, seed)) }],
      };
    case 'security-prompts':
      return {
        datasetKind: 'text-classification-jsonl',
        options: {},
        description: 'Synthetic prompts: prompt_injection, jailbreak, system_extraction, code_injection, benign',
        files: [{ name: 'security-prompts.jsonl', data: Buffer.from(promptsJsonl(size, seed)) }],
      };
    case 'images':
      return {
        datasetKind: 'image-set',
        options: {},
        description: 'Generated PNGs of one subject, for image LoRA trials',
        files: (await imageSet(size, 256, seed)).map((i) => ({ name: i.name, data: i.png })),
      };
    case 'videos':
      return {
        datasetKind: 'video-set',
        options: {},
        description: 'Synthetic 1 s clips: a red square moving right, a blue one moving down, a green one still (label and caption)',
        files: [{ name: 'videos.zip', data: await videoSet(size, seed) }],
      };
  }
}

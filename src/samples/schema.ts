/** Sample datasets: the body of POST /v1/datasets/samples. */
import { StringEnum, Type, type Static } from '../domain/schema-kit.js';

export const SAMPLE_KINDS = ['eeg', 'security-prompts', 'images', 'videos'] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];

/**
 * The largest sample the API makes per kind (the CLI's `sample-data` has no such limit):
 * generating one runs on the server's event loop, about 10 ms per 1,000 EEG rows or 200
 * prompts, so the maximum is checked before anything is generated.
 */
export const SAMPLE_API_MAX: Record<SampleKind, number> = { eeg: 10_000, 'security-prompts': 1000, images: 200, videos: 50 };
/** The smallest: a few clips per class make a video set, where fewer than 10 rows make no EEG sample. */
export const SAMPLE_API_MIN: Record<SampleKind, number> = { eeg: 10, 'security-prompts': 10, images: 10, videos: 1 };

export const CreateSampleBody = Type.Object(
  {
    kind: StringEnum(SAMPLE_KINDS),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    size: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100_000,
        description:
          'eeg: rows (6000, at most 10000); security-prompts: examples per class (120, at most 1000); images: images (12, at most 200); videos: clips per class (8, at most 50); at least 10 except for videos',
      }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
  },
  { additionalProperties: false },
);
export type CreateSampleInput = Static<typeof CreateSampleBody>;

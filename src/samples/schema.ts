/** Sample datasets: the body of POST /v1/datasets/samples. */
import { StringEnum, Type, type Static } from '../domain/schema-kit.js';

export const SAMPLE_KINDS = ['eeg', 'security-prompts', 'images'] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];

export const CreateSampleBody = Type.Object(
  {
    kind: StringEnum(SAMPLE_KINDS),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    size: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 100_000, description: 'eeg: rows (6000); security-prompts: examples per class (120); images: images (12)' }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
  },
  { additionalProperties: false },
);
export type CreateSampleInput = Static<typeof CreateSampleBody>;

/** Image generations: the shapes the API accepts and returns. */
import { Nullable, Out, Page, Type, VersionNumber, type Static } from '../schema-kit.js';

const nullableInt = () => Nullable(Type.Integer());

export const CreateGenerationBody = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 201, description: 'A lora-diffusion model: yours by name, or a public one as owner/name' })),
    version: Type.Optional(VersionNumber()),
    alias: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    base_model: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Defaults to the base model the LoRA was trained on' })),
    prompt: Type.String({ minLength: 1, maxLength: 1000 }),
    negative_prompt: Type.Optional(Type.String({ maxLength: 1000 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 150 })),
    guidance_scale: Type.Optional(Type.Number({ minimum: 0, maximum: 30 })),
    width: Type.Optional(Type.Integer({ minimum: 32, maximum: 2048, multipleOf: 8 })),
    height: Type.Optional(Type.Integer({ minimum: 32, maximum: 2048, multipleOf: 8 })),
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100 })),
  },
  { additionalProperties: false },
);
export type CreateGenerationInput = Static<typeof CreateGenerationBody>;

export const Generation = Out({
  id: Type.String(),
  status: Type.String(),
  model: Nullable(Out({ name: Type.String(), version: Type.Integer() })),
  base_model: Nullable(Type.String()),
  prompt: Type.String(),
  negative_prompt: Nullable(Type.String()),
  seed: Nullable(Type.Integer({ description: 'The seed used (chosen at random when none was given); the same seed gives the same image' })),
  steps: Type.Integer(),
  guidance_scale: Type.Number(),
  width: nullableInt(),
  height: nullableInt(),
  progress: Out({ fraction: Type.Number(), step: nullableInt(), total_steps: nullableInt() }),
  cost: Type.Integer(),
  image: Nullable(
    Out({ format: Type.String(), bytes: Type.Integer(), sha256: Type.String(), url: Nullable(Type.String()), expires_at: Nullable(Type.String()) }),
  ),
  image_url: Nullable(Type.String({ description: 'Signed URL of the PNG once the generation succeeded' })),
  inference_time_s: Nullable(Type.Number()),
  error: Nullable(Out({ code: Type.String(), message: Type.String() })),
  created_at: Type.String(),
  started_at: Nullable(Type.String()),
  finished_at: Nullable(Type.String()),
});

export const GenerationPage = Page(Generation);

/** Shared JSON Schemas: they validate requests and also generate /openapi.json. */

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
} as const;

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, { $ref: 'Error#' }]));

export const freeObject = { type: 'object', additionalProperties: true } as const;
export const nullableString = { type: ['string', 'null'] } as const;

export const idParams = (name = 'id') =>
  ({ type: 'object', required: [name], additionalProperties: false, properties: { [name]: { type: 'string', minLength: 1, maxLength: 100 } } }) as const;

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
  cursor: { type: 'string', maxLength: 500 },
} as const;

export const page = (item: object) =>
  ({ type: 'object', properties: { data: { type: 'array', items: item }, next_cursor: nullableString } }) as const;

export const userSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, username: { type: 'string' }, email: { type: 'string' }, role: { type: 'string', enum: ['user', 'admin'] }, created_at: { type: 'string', format: 'date-time' } },
} as const;

export const apiKeySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    prefix: { type: 'string' },
    secret: { type: 'string', description: 'Shown once, at creation' },
    created_at: { type: 'string', format: 'date-time' },
    last_used_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const fileSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    filename: { type: 'string' },
    bytes: { type: 'integer' },
    sha256: { type: 'string' },
    content_type: { type: 'string', description: 'Decided from the bytes, never from the name' },
    source: { type: 'string', enum: ['upload', 'presigned', 'import'] },
    source_url: nullableString,
    created_at: { type: 'string', format: 'date-time' },
  },
} as const;

export const datasetSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    description: nullableString,
    options: freeObject,
    status: { type: 'string', enum: ['processing', 'ready', 'error'] },
    stats: { type: ['object', 'null'], additionalProperties: true },
    errors: { type: 'array', items: freeObject },
    error_count: { type: 'integer' },
    file_count: { type: 'integer' },
    total_bytes: { type: 'integer' },
    file_ids: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

export const trainerSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    task: { type: 'string' },
    description: { type: 'string' },
    dataset: freeObject,
    hyperparameters: freeObject,
    primary_metric: freeObject,
    resources: freeObject,
    pricing: freeObject,
    base_models: { type: 'string', enum: ['none', 'required', 'optional'] },
    supports_warm_start: { type: 'boolean' },
    kind: { type: 'string', enum: ['training', 'inference'] },
    runtime: freeObject,
    available: { type: 'boolean' },
    unavailable_reason: nullableString,
  },
} as const;

export const baseModelSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    architecture: { type: 'string' },
    trainers: { type: 'array', items: { type: 'string' } },
    source: { type: 'string' },
    local_path: nullableString,
    available: { type: 'boolean', description: 'Whether the model files are present on this server' },
    registered: { type: 'boolean', description: 'Registered at run time by an admin (POST /v1/admin/base-models), not built in' },
    version: { type: 'string' },
    supported_lora_params: {
      type: 'object',
      properties: { min_rank: { type: 'integer' }, max_rank: { type: 'integer' }, default_alpha: { type: 'integer' } },
    },
  },
} as const;

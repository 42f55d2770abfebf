import { ALL_STATES } from '../../domain/jobs/states.js';
import { freeObject, nullableString } from '../schemas.js';

export const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    trainer: { type: 'string' },
    status: { type: 'string', enum: ALL_STATES },
    priority: { type: 'integer' },
    dataset_id: nullableString,
    validation_dataset_id: nullableString,
    base_model: nullableString,
    hyperparameters: freeObject,
    output: { type: ['object', 'null'], additionalProperties: true, description: 'The model a training job produces; null for inference jobs' },
    metadata: freeObject,
    webhook_url: nullableString,
    cost: { type: 'integer', description: 'Credits held at creation, captured on success, released on failure or cancel' },
    attempt: { type: 'integer' },
    max_attempts: { type: 'integer' },
    progress: {
      type: 'object',
      properties: { fraction: { type: 'number' }, step: { type: ['integer', 'null'] }, total_steps: { type: ['integer', 'null'] }, epoch: { type: ['number', 'null'] }, eta_seconds: { type: ['number', 'null'] } },
    },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
    result: { type: ['object', 'null'], additionalProperties: true },
    model_version_id: nullableString,
    from_model: { type: ['object', 'null'], properties: { name: { type: 'string' }, version: { type: 'integer' } } },
    sweep_id: nullableString,
    created_at: { type: 'string', format: 'date-time' },
    started_at: { type: ['string', 'null'], format: 'date-time' },
    finished_at: { type: ['string', 'null'], format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

import type { paths } from './schema';

/** The shapes pages use, taken from the generated path types (the document inlines most schemas). */
type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { responses: infer R }
  ? R extends { 200: { content: { 'application/json': infer B } } }
    ? B
    : R extends { 201: { content: { 'application/json': infer B } } }
      ? B
      : R extends { 202: { content: { 'application/json': infer B } } }
        ? B
        : never
  : never;
type Item<T> = T extends { data?: (infer I)[] } ? I : never;
type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

export type Me = Ok<'/v1/me', 'get'>;
export type Job = Ok<'/v1/jobs/{id}', 'get'>;
export type JobCreate = Body<'/v1/jobs', 'post'>;
export type Dataset = Ok<'/v1/datasets/{id}', 'get'>;
export type Trainer = Ok<'/v1/trainers/{id}', 'get'>;
export type BaseModel = Ok<'/v1/base-models/{id}', 'get'>;
export type Model = Ok<'/v1/models/{name}', 'get'>;
export type Sweep = Ok<'/v1/sweeps/{id}', 'get'>;
export type ApiKey = Item<Ok<'/v1/api-keys', 'get'>>;
export type Balance = Ok<'/v1/credits/balance', 'get'>;
export type Transaction = Item<Ok<'/v1/credits/transactions', 'get'>>;
export type AdminUser = Item<Ok<'/v1/admin/users', 'get'>>;
export type FileInfo = Ok<'/v1/files/{id}', 'get'>;
export type JobStatus = Job['status'];

/** One event of a job's stream (GET /v1/jobs/{id}/events): progress, metrics, log, sample, status, … */
export interface JobEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

export const FINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export type { Ok, Body, Item };

import type { paths } from './schema.js';

// The shapes the client returns, taken from the types generated from /openapi.json
// (schema.d.ts): the document inlines its schemas, so each is named here once by the route
// that answers it. Response properties are optional because the server's output schemas are.

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
/** The JSON of a route's success answer (200, 201 or 202). */
export type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { responses: infer R }
  ? R extends { 200: infer A }
    ? JsonOf<A>
    : R extends { 201: infer A }
      ? JsonOf<A>
      : R extends { 202: infer A }
        ? JsonOf<A>
        : never
  : never;
/** A route's JSON request body. */
export type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? NonNullable<B>
  : never;
/** A route's querystring. */
export type QueryOf<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
/** One item of a list answer (`{data: [...]}`). */
export type Item<T> = T extends { data?: (infer I)[] } ? I : never;

export type Me = Ok<'/v1/me', 'get'>;
export type ApiKey = Ok<'/v1/api-keys', 'post'>;
export type ApiKeyInfo = Item<Ok<'/v1/api-keys', 'get'>>;
export type FileInfo = Ok<'/v1/files/{id}', 'get'>;
export type UploadTicket = Ok<'/v1/uploads', 'post'>;
export type Dataset = Ok<'/v1/datasets/{id}', 'get'>;
export type DatasetCreate = Body<'/v1/datasets', 'post'>;
export type DatasetSamples = Body<'/v1/datasets/samples', 'post'>;
export type Trainer = Ok<'/v1/trainers/{id}', 'get'>;
export type BaseModel = Ok<'/v1/base-models/{id}', 'get'>;
export type Job = Ok<'/v1/jobs/{id}', 'get'>;
export type JobCreate = Body<'/v1/jobs', 'post'>;
export type JobsFilter = Omit<QueryOf<'/v1/jobs', 'get'>, 'cursor'>;
export type JobStatus = NonNullable<Job['status']>;
export type LogLine = Item<Ok<'/v1/jobs/{id}/logs', 'get'>>;
export type JobMetrics = Ok<'/v1/jobs/{id}/metrics', 'get'>;
export type Model = Ok<'/v1/models/{name}', 'get'>;
export type ModelsFilter = Omit<QueryOf<'/v1/models', 'get'>, 'page'>;
export type ModelVersion = Ok<'/v1/models/{name}/versions/{v}', 'get'>;
export type ArtifactLink = Ok<'/v1/models/{name}/versions/{v}/artifacts/{artifact}', 'get'>;
export type PredictRequest = Body<'/v1/models/{name}/predict', 'post'>;
export type Prediction = Ok<'/v1/models/{name}/predict', 'post'>;
export type Balance = Ok<'/v1/credits/balance', 'get'>;
export type Transaction = Item<Ok<'/v1/credits/transactions', 'get'>>;
export type TransactionsFilter = Omit<QueryOf<'/v1/credits/transactions', 'get'>, 'cursor'>;

/** One event of a job (`GET /v1/jobs/{id}/events`): status, progress, metrics, log, sample, … */
export interface JobEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

export const FINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export type { paths };

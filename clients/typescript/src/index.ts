export { Trainyard } from './client.js';
export { TrainyardConnectionError, TrainyardError } from './errors.js';
export { retryAfterMs, type ClientOptions, type Query, type RequestOptions } from './http.js';
export { Paginated, type Page } from './pages.js';
export { MULTIPART_MAX_BYTES, type UploadOptions } from './files.js';
export type { EventsOptions } from './jobs.js';
export type { VersionRef } from './models.js';
export { parseSse, type SseMessage } from './sse.js';
export * from './types.js';

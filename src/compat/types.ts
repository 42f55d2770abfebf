import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DescribedError } from '../app/plugins/errors.js';
import type { Services } from '../services.js';

/** What a facade's envelope is built from: the error as /v1 would describe it. */
export type FacadeError = Omit<DescribedError, 'headers'>;

/**
 * A seed API served over the same core: one Fastify plugin that registers the document's own
 * paths (relative: the layer mounts it under /compat/<name> on the main server and, when
 * configured, at / on a port of its own). Facades call the domain services, like app/ does;
 * nothing below src/compat imports a facade.
 */
export interface Facade {
  /** The name in TRAINYARD_COMPAT and in /compat/<name>. */
  name: string;
  /** The OpenAPI tag its routes are listed under, and what the document is. */
  tag: { name: string; description: string };
  /**
   * JSON schemas the facade's routes refer to by $id (its error envelope above all); added to
   * every server that mounts the facade, before any route compiles.
   */
  schemas?: object[];
  /** The $ref of the facade's error envelope: the standard error answers of its routes point at it. */
  errorRef: string;
  /**
   * The document's error envelope, built from the error as /v1 describes it; `status` maps a
   * status the document never answers to one it does. The layer answers every error of the
   * facade's routes, unknown paths under it and router errors (414, bad URLs) with it.
   */
  envelope(e: FacadeError, req: FastifyRequest): { status?: number; body: unknown };
  /**
   * Registers the routes on an encapsulated instance (its own error and not-found handlers stay
   * inside it). Runs once per mount: twice when the facade also has a port of its own.
   */
  plugin(app: FastifyInstance, s: Services): Promise<void>;
}

import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyInstance } from 'fastify';

/**
 * Route schemas compiled on a route's first request instead of at start-up (issue #15, target 6).
 *
 * Fastify compiles every route's body/params/query validators (ajv) and every response
 * serializer (fast-json-stringify) before it listens: ~250 routes, each documenting half a dozen
 * error answers, and facades' routes on top; the largest part of a restart after loading the
 * modules and PGlite. Most of those compiled functions are never called by a given process
 * (a worker's API, a test's server, a facade nobody uses), so each is compiled when first called
 * and kept. The price is a few milliseconds on a route's first request, and a schema that does
 * not compile fails there rather than at start: `compileAll()` (the decorator
 * `app.compileRouteSchemas()`) compiles every one at once, and a test calls it so a bad schema
 * still fails CI, not a user's request.
 */
export class LazySchemas {
  private readonly pending = new Set<() => unknown>();

  /** A validator with ajv's shape: `errors` is read from the function after a failed call. */
  validator<F extends ((data: unknown) => unknown) & { errors?: unknown }>(compile: () => F): F {
    const d = this.defer(compile);
    const call = ((data: unknown) => d.get()(data)) as F;
    Object.defineProperty(call, 'errors', { get: () => d.compiled()?.errors ?? null });
    return call;
  }

  serializer(compile: () => (data: unknown) => string): (data: unknown) => string {
    const d = this.defer(compile);
    return (data: unknown) => d.get()(data);
  }

  /** `compile` run once, on the first `get` or by compileAll; until then it is pending. */
  private defer<F>(compile: () => F): { get: () => F; compiled: () => F | null } {
    let fn: F | null = null;
    const warm = (): F => {
      if (fn === null) {
        fn = compile();
        this.pending.delete(warm);
      }
      return fn;
    };
    this.pending.add(warm);
    return { get: () => fn ?? warm(), compiled: () => fn };
  }

  /** Compiles everything not compiled yet; returns how many. Throws the first schema that fails. */
  compileAll(): number {
    const todo = [...this.pending];
    for (const warm of todo) warm();
    return todo.length;
  }
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/** Fastify's own serializer factory (the one it uses by default), each compile deferred. */
export function lazySerializerFactory(lazy: LazySchemas): SerializerFactory {
  const factory = SerializerSelector();
  return ((externalSchemas: unknown, options: unknown) => {
    const compile = (factory as (e: unknown, o: unknown) => (route: unknown) => (data: unknown) => string)(externalSchemas, options);
    return (route: unknown) => lazy.serializer(() => compile(route));
  }) as unknown as SerializerFactory;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Compiles every route schema not compiled yet (tests; see LazySchemas). Returns how many. */
    compileRouteSchemas(): number;
  }
}

export function decorateLazySchemas(app: FastifyInstance, lazy: LazySchemas): void {
  app.decorate('compileRouteSchemas', () => lazy.compileAll());
}

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { CompatFacade } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Services } from '../services.js';
import { neurolab } from './neurolab/index.js';
import { trainingService } from './training-service/index.js';
import { loraCredits } from './lora-credits/index.js';
import { selfi } from './selfi/index.js';
import { qlora } from './qlora/index.js';
import { useEnvelope } from './envelope.js';
import type { Facade } from './types.js';

/** Every facade Trainyard ships; TRAINYARD_COMPAT (or DATA_DIR/config.json) turns them on by name. */
export const FACADES: readonly Facade[] = [neurolab, trainingService, loraCredits, selfi, qlora];

/** The configured facades, each with its definition; an unknown name stops the start with a clear error. */
export function enabledFacades(configured: readonly CompatFacade[]): Array<CompatFacade & { facade: Facade }> {
  return configured.map((c) => {
    const facade = FACADES.find((f) => f.name === c.name);
    if (!facade) throw new ConfigError('TRAINYARD_COMPAT', `no facade "${c.name}"; Trainyard has ${FACADES.map((f) => f.name).join(', ')}`);
    return { ...c, facade };
  });
}

/** Schemas the facade's routes refer to; added once per server, before its routes compile. */
export function addFacadeSchemas(app: FastifyInstance, facades: readonly Facade[]): void {
  for (const f of facades) for (const schema of f.schemas ?? []) app.addSchema(schema);
}

/** The facade whose paths a main-server URL is under (/compat/<name>/…), or null. */
export function facadeUnder(url: string, facades: readonly Facade[]): Facade | null {
  const m = /^\/compat\/([^/?#]+)/.exec(url);
  return (m && facades.find((f) => f.name === m[1])) ?? null;
}

/** Mounts a facade: under /compat/<name> on the main server, at / on its own port. */
export async function mountFacade(app: FastifyInstance, f: Facade, s: Services, prefix: string): Promise<void> {
  await app.register(
    async (scope) => {
      // Every route of the facade is listed under its own tag, and its standard error answers
      // (401, 429, 400…) are documented in its own envelope (src/app/schemas.ts).
      scope.addHook('onRoute', (route) => {
        const schema = (route.schema ??= {}) as { tags?: string[]; response?: Record<string, unknown> };
        schema.tags ??= [f.tag.name];
        route.config = { errorRef: f.errorRef, ...(route.config as object) } as typeof route.config;
        // The root's onRoute hooks run before a child's, so documentStandardErrors has already
        // added the standard answers in /v1's envelope: point them at the facade's.
        const ref = (route.config as { errorRef: string }).errorRef;
        for (const [status, r] of Object.entries(schema.response ?? {}))
          if ((r as { $ref?: string }).$ref === 'Error#') schema.response![status] = { $ref: ref };
      });
      useEnvelope(scope, f);
      await f.plugin(scope, s);
    },
    { prefix },
  );
}

export interface FacadeServer {
  name: string;
  url: string;
  app: FastifyInstance;
}

/**
 * Each facade configured with a port gets a server of its own with exactly the document's
 * paths, listening on HOST like the main one. `build` makes the base app (the same hooks,
 * validation, auth and rate limits as the main server).
 */
export async function startFacadeServers(s: Services, host: string, build: (f: Facade) => Promise<FastifyInstance>, log: Logger): Promise<FacadeServer[]> {
  const out: FacadeServer[] = [];
  try {
    for (const c of enabledFacades(s.config.compat.facades)) {
      if (c.port === null) continue;
      const app = await build(c.facade);
      const url = await app.listen({ port: c.port, host });
      log.info({ facade: c.name, url }, 'compatibility facade listening on its own port');
      out.push({ name: c.name, url, app });
    }
  } catch (err) {
    await Promise.all(out.map((x) => x.app.close()));
    throw err;
  }
  return out;
}

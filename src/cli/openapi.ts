import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { startRuntime } from '../runtime.js';

/**
 * `trainyard openapi [--out FILE]`: the OpenAPI document exactly as a server on the embedded
 * defaults serves it at /openapi.json. The dashboard's build generates its API types from
 * it (web/package.json gen:api), so a changed API breaks that build rather than its users.
 * A throwaway server on loopback over a throwaway data folder: no worker, nothing kept.
 */
export async function openapiCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } } });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-openapi-'));
  try {
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', WORKER_IN_PROCESS: 'false', LOG_LEVEL: 'silent' });
    const rt = await startRuntime(config, { logger: pino({ level: 'silent' }) });
    let doc: string;
    try {
      const res = await fetch(`${rt.url}/openapi.json`);
      if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
      doc = JSON.stringify(await res.json(), null, 2) + '\n';
    } finally {
      await rt.close();
    }
    if (values.out) await writeFile(values.out, doc);
    else process.stdout.write(doc);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

import { writeFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { migrate } from '../db/migrate.js';
import { wrapPglite } from '../db/pglite.js';

/**
 * Writes the embedded database's starting point: a PGlite data folder that has been through
 * initdb and every migration, as a gzipped tarball. `scripts/ensure-built.mjs` runs this after
 * each build (dist/pglite-seed.tar.gz); `openPglite` unpacks it into an empty DATA_DIR
 * (src/db/pglite-seed.ts, 0.1–1.5 s here, depending on how fast the disk creates files) where
 * PGlite's own initdb
 * inside WebAssembly takes ~3.5 s. Migrations added later still apply on top: the seed only
 * saves work, it never decides the schema.
 * Run by the build only (`node dist/cli/pglite-seed.js OUT`), not a user-facing command.
 */
export async function writePgliteSeed(out: string): Promise<void> {
  const pg = await PGlite.create();
  try {
    await migrate(wrapPglite(pg));
    await pg.query('checkpoint');
    const dump = await pg.dumpDataDir('gzip');
    await writeFile(out, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await pg.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: node dist/cli/pglite-seed.js OUT.tar.gz');
  await writePgliteSeed(out);
}

import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingMigrations, loadMigrations } from '../../src/db/migrate.js';
import { openPglite } from '../../src/db/pglite.js';
import { writePgliteSeed } from '../../src/cli/pglite-seed.js';
import { unpackPgliteSeed } from '../../src/db/pglite-seed.js';

// What `npm start` leans on to be ready in seconds (issue #15): the embedded database starts
// from the build's pre-initialised seed, and log lines read as text on a terminal.

const tsx = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
const runtimeUrl = pathToFileURL(path.resolve('src/runtime.ts')).href;

function logWith(format: string): Promise<string> {
  const code = `const { createLogger } = await import(${JSON.stringify(runtimeUrl)});
createLogger({ logLevel: 'info', logFormat: ${JSON.stringify(format)} }).info({ job: 'job_1' }, 'trainyard is ready');`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`exit ${c}`))));
  });
}

/** Every file under dir (relative path → bytes), folders as null. */
async function tree(dir: string): Promise<Map<string, Buffer | null>> {
  const out = new Map<string, Buffer | null>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, full), e.isDirectory() ? null : await readFile(full));
  }
  return out;
}

describe('start-up', () => {
  let dir: string;
  let seed: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'trainyard-seed-'));
    seed = path.join(dir, 'seed.tar.gz');
    await writePgliteSeed(seed);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('an empty data folder starts from the seed with every migration applied, and keeps what is written', async () => {
    const dataDir = path.join(dir, 'pgdata');
    const db = await openPglite(dataDir, seed);
    expect(await pendingMigrations(db)).toBe(0);
    const { rows } = await db.query<{ n: number }>('select count(*)::int as n from trainyard_migrations');
    expect(rows[0]!.n).toBe((await loadMigrations()).length);
    await db.exec(`insert into users (id, username, email, password_hash) values ('usr_seed', 'seeded', 'seed@example.com', 'x')`);
    await db.close();
    // Reopened, it is the same database (the seed is only for an empty folder).
    const again = await openPglite(dataDir, seed);
    expect((await again.query<{ username: string }>(`select username from users where id = 'usr_seed'`)).rows).toEqual([{ username: 'seeded' }]);
    await again.close();
  });

  it('the seed unpacks to the same files as GNU tar extracts from it', async () => {
    const ours = path.join(dir, 'ours');
    const gnu = path.join(dir, 'gnu');
    unpackPgliteSeed(seed, ours);
    await mkdir(gnu);
    execFileSync('tar', ['-xzf', seed, '-C', gnu], { stdio: 'ignore' });
    const [a, b] = [await tree(ours), await tree(gnu)];
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    expect(a.size).toBeGreaterThan(500);
    for (const [name, bytes] of a) expect(bytes?.equals(b.get(name)!) ?? b.get(name) === null, name).toBe(true);
  });

  it('an unpacking cut short (no PG_VERSION yet) is unpacked again on the next start', async () => {
    const dataDir = path.join(dir, 'pgdata-cut');
    unpackPgliteSeed(seed, dataDir);
    await unlink(path.join(dataDir, 'PG_VERSION'));
    await truncate(path.join(dataDir, 'global', 'pg_control'), 100);
    const db = await openPglite(dataDir, seed);
    expect(await pendingMigrations(db)).toBe(0);
    await db.close();
  });

  it('a seed with a path outside the folder is refused: nothing is written outside, initdb runs instead', async () => {
    const src = path.join(dir, 'evil-src');
    await mkdir(path.join(src, 'inner'), { recursive: true });
    await writeFile(path.join(src, 'PG_VERSION'), '17\n');
    // An entry named ../escaped (GNU tar keeps it with -P).
    const evil = path.join(dir, 'evil.tar.gz');
    execFileSync('tar', ['-czPf', evil, '-C', src, '--transform', 's,^inner,../escaped,', 'PG_VERSION', 'inner'], { stdio: 'ignore' });
    expect(execFileSync('tar', ['-tzf', evil]).toString()).toContain('../escaped');
    const dataDir = path.join(dir, 'pgdata-evil');
    expect(() => unpackPgliteSeed(evil, dataDir)).toThrow(/refusing path/);
    const db = await openPglite(dataDir, evil);
    expect((await db.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await db.close();
    expect(existsSync(path.join(dir, 'escaped'))).toBe(false);
  });

  it('an unreadable seed falls back to initdb', async () => {
    const bad = path.join(dir, 'bad.tar.gz');
    await writeFile(bad, 'not a tarball');
    const db = await openPglite(path.join(dir, 'pgdata-bad'), bad);
    expect((await db.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await db.close();
  });

  it('logs JSON lines when not told otherwise and not on a terminal, text when LOG_FORMAT=pretty', async () => {
    const auto = await logWith('auto');
    expect(JSON.parse(auto.trim())).toMatchObject({ level: 30, msg: 'trainyard is ready', job: 'job_1' });
    const pretty = await logWith('pretty');
    expect(pretty).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: trainyard is ready\n\s+job: "job_1"/);
    expect(pretty).not.toContain('{"level"');
  });
});

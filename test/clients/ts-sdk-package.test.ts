import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The TypeScript SDK as it is published: its API types regenerated from the server's
// /openapi.json and compared with the checked-in ones (a changed API with a stale
// schema.d.ts fails here: run `npm run gen:sdk`), and its build compiled with its own
// tsconfig, then used as a consumer would: the built module imported, its declarations
// type-checked.

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const pkgDir = path.join(root, 'clients/typescript');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'trainyard-ts-sdk-pkg-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('the TypeScript SDK package', () => {
  it('src/schema.d.ts is what `npm run gen:sdk` makes from the current API', async () => {
    const fresh = path.join(tmp, 'schema.d.ts');
    await run(process.execPath, ['scripts/gen-sdk-types.mjs', fresh], { cwd: root });
    const [now, checkedIn] = await Promise.all([readFile(fresh, 'utf8'), readFile(path.join(pkgDir, 'src/schema.d.ts'), 'utf8')]);
    // toBe, not a diff of 9,000 lines: the message says what to do.
    expect(now === checkedIn, 'clients/typescript/src/schema.d.ts is stale: run `npm run gen:sdk` and commit it').toBe(true);
  });

  it('builds with its own tsconfig into what package.json publishes, with no runtime dependency', async () => {
    const pkg = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: '@trainyard/client', type: 'module', engines: { node: '>=20' } });
    expect(pkg.dependencies ?? {}).toEqual({});

    // The build script, with the output sent to a temporary folder.
    const dist = path.join(tmp, 'dist');
    await run(process.execPath, [tsc, '-p', pkgDir, '--outDir', dist], { cwd: root });
    await copyFile(path.join(pkgDir, 'src/schema.d.ts'), path.join(dist, 'schema.d.ts'));
    const built = await readdir(dist);
    for (const file of [pkg.main, pkg.types, pkg.exports['.'].import, pkg.exports['.'].types]) {
      expect(built, `package.json names ${file}`).toContain(path.basename(file));
    }
    // Only relative and node: imports in what is published.
    for (const file of built.filter((f) => f.endsWith('.js'))) {
      const source = await readFile(path.join(dist, file), 'utf8');
      for (const [, spec] of source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) expect(spec, file).toMatch(/^(\.\/|node:)/);
    }

    const mod = await import(pathToFileURL(path.join(dist, 'index.js')).href);
    expect(typeof mod.Trainyard).toBe('function');
    expect(mod.retryAfterMs('2')).toBe(2000);
    expect(new mod.Trainyard({ url: 'http://127.0.0.1:1/', apiKey: 'ty_x' }).http.baseUrl).toBe('http://127.0.0.1:1');

    // A consumer's code against the published declarations (schema.d.ts included).
    await writeFile(
      path.join(tmp, 'consumer.ts'),
      [
        "import { Trainyard, TrainyardError, type Job, type JobEvent } from './dist/index.js';",
        "const ty = new Trainyard({ url: 'http://127.0.0.1:8080', apiKey: 'ty_x', maxRetries: 5 });",
        'export async function follow(id: string): Promise<Job> {',
        '  const seen: JobEvent[] = [];',
        '  for await (const e of ty.jobs.events(id)) seen.push(e);',
        "  for await (const j of ty.jobs.list({ status: 'running', limit: 10 })) if (j.id === id) break;",
        '  return ty.jobs.get(id);',
        '}',
        "export const isRateLimited = (e: unknown) => e instanceof TrainyardError && e.code === 'RATE_LIMITED';",
        '',
      ].join('\n'),
    );
    await run(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--target',
        'ES2022',
        '--module',
        'NodeNext',
        '--moduleResolution',
        'NodeNext',
        '--types',
        'node',
        '--typeRoots',
        path.join(root, 'node_modules/@types'),
        path.join(tmp, 'consumer.ts'),
      ],
      { cwd: tmp },
    ).catch((err: { stdout?: string }) => {
      throw new Error(`the published declarations do not type-check a consumer:\n${err.stdout}`);
    });
  });
});

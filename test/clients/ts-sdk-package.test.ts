import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSse, retryAfterMs } from '../../clients/typescript/src/index.js';

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

  it('reads Retry-After as seconds or an HTTP date, and SSE split anywhere, CRLF, comments and multi-line data', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeNull();
    expect(retryAfterMs(null, now)).toBeNull();

    const text =
      ': connected\r\n\r\nid: 1\r\nevent: status\r\ndata: {"a":\r\ndata: 1}\r\n\r\n: keep-alive\n\nretry: 1000\nevent: more\ndata: {}\n\nid: 2\ndata: half';
    const bytes = new TextEncoder().encode(text);
    // One byte per chunk: every boundary, the \r\n pairs included, falls between two reads.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]));
        c.close();
      },
    });
    const msgs = [];
    for await (const m of parseSse(body)) msgs.push(m);
    // The last message never got its blank line (a cut connection): it is not dispatched.
    expect(msgs).toEqual([
      { id: '1', event: 'status', data: '{"a":\n1}', retry: null },
      { id: '1', event: 'more', data: '{}', retry: 1000 },
    ]);
  });
});

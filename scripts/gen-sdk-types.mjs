#!/usr/bin/env node
// Generates the TypeScript SDK's API types from the server's own OpenAPI document:
// `trainyard openapi` (a throwaway server on the embedded defaults) piped through
// openapi-typescript, exactly as the dashboard's gen:api does for web/src/api/.
//   node scripts/gen-sdk-types.mjs [OUT]   (default clients/typescript/src/schema.d.ts)
// test/clients/ts-sdk-schema.test.ts runs it into a temporary folder and compares, so a
// changed API with a stale checked-in schema fails `npm test`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'clients/typescript/src/schema.d.ts'));
const tmp = mkdtempSync(path.join(tmpdir(), 'trainyard-sdk-gen-'));
try {
  const doc = path.join(tmp, 'openapi.json');
  execFileSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'openapi', '--out', doc], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(root, 'node_modules/openapi-typescript/bin/cli.js'), doc, '-o', out, '--silent', '--empty-objects-unknown'], {
    cwd: root,
    stdio: 'inherit',
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

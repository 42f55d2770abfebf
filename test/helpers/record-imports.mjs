// Run as `node --import tsx --import ./test/helpers/record-imports.mjs …` with RECORD_IMPORTS_TO
// set to a file: appends to it, one a line, every URL the ES module loader resolves (registered
// after tsx, so a '.js' specifier shows as the .ts file it maps to), and at exit every file in
// the CommonJS cache, which also holds what a CommonJS package require()d behind the loader's back.
// test/unit/launcher-imports.test.ts reads it to see which modules a command really loaded.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';

const out = process.env.RECORD_IMPORTS_TO;
if (!out) throw new Error('record-imports: set RECORD_IMPORTS_TO');

// The hooks run on the loader's own thread: they write to the file rather than post back, so a
// process.exit() in the program under test cannot lose what they saw.
const hooks = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(out, r.url + '\\n');
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { out } });

process.on('exit', () => {
  const files = Object.keys(Module._cache);
  if (files.length) appendFileSync(out, files.join('\n') + '\n');
});

// Cold start: command started → first 200 from /readyz, on the embedded defaults (PGlite,
// local storage). "first boot" uses an empty DATA_DIR (database + migrations + secret);
// "restart" reuses the folder, as a service restart would. Run: npm run bench:cold-start
//
// DATA_DIR is a new folder in the checkout, where the default `./data` is (DATA_PARENT=/tmp for
// os.tmpdir(), where this bench put it until 2026-12-05). A first boot writes the seed's ~1,200
// files, and how long that takes is the disk's business: on this VM creating a file costs from
// 0.03 ms to ~1 ms (strace: openat O_CREAT at 1.0–1.1 ms each on 2026-12-05 23:25, 1,176 files in
// ~30 ms an hour earlier), which decides most of a first boot's time over a restart's.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

const RUNS = Number(process.env.RUNS ?? 5);
const DATA_PARENT = path.resolve(process.env.DATA_PARENT ?? '.');
const OLD_RUNS = Number(process.env.OLD_RUNS ?? 2);
const main = path.resolve('dist/main.js');
const seed = path.resolve('dist/pglite-seed.tar.gz');
const seedAside = seed + '.bench-aside';

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Starts `argv` in its own process group, waits for /readyz, then stops the whole group. */
async function once(argv, dataDir) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    detached: true,
  });
  const exited = new Promise((r) => child.on('exit', r));
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (performance.now() - t0 > 600_000) throw new Error('not ready after 600 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  process.kill(-child.pid, 'SIGTERM');
  await exited;
  return ms;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

async function pair(argv, runs) {
  const first = [];
  const restart = [];
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(path.join(DATA_PARENT, '.cold-start-'));
    try {
      first.push(await once(argv, dir));
      restart.push(await once(argv, dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { first, restart };
}

if (!existsSync(seed)) throw new Error('dist/pglite-seed.tar.gz missing: run `npm run build` first');
const npmStart = await pair(['npm', 'start', '--silent'], RUNS);
const withSeed = await pair([process.execPath, main, 'serve'], RUNS);
let noSeed;
renameSync(seed, seedAside);
try {
  noSeed = await pair([process.execPath, main, 'serve'], RUNS);
} finally {
  renameSync(seedAside, seed);
}
// The old `npm start`: build everything, then serve (no seed, as before it existed). It
// rebuilds dist/ the same way, so the checkout stays built; the stamp is rewritten by the next
// `node scripts/ensure-built.mjs` if anything differs.
renameSync(seed, seedAside);
let old;
try {
  old = await pair(['sh', '-c', `npm run -s build:all && exec node ${main} serve`], OLD_RUNS);
} finally {
  renameSync(seedAside, seed);
}

const fmt = (x) => `${Math.round(x)} ms`;
console.log('| command | case | median | min | max | runs |');
console.log('|---|---|---|---|---|---|');
for (const [name, r] of [
  ['`npm start`, built (now)', npmStart],
  ['`node dist/main.js serve`, seed', withSeed],
  ['`node dist/main.js serve`, no seed', noSeed],
  ['old `npm start` (build, then serve)', old],
]) {
  for (const [kase, xs] of [
    ['first boot, empty DATA_DIR', r.first],
    ['restart, existing DATA_DIR', r.restart],
  ]) {
    const s = stats(xs);
    console.log(`| ${name} | ${kase} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${xs.length} |`);
  }
}

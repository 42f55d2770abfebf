// Cold start: process spawn → first 200 from /readyz, on the embedded defaults (PGlite,
// local storage). "first boot" uses an empty DATA_DIR (PGlite initdb + migrations + secret);
// "restart" reuses the folder, as a service restart would. Run: npm run bench:cold-start
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const RUNS = Number(process.env.RUNS ?? 5);
const main = path.resolve('dist/main.js');

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function once(dataDir) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [main, 'serve'], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (performance.now() - t0 > 60_000) throw new Error('not ready after 60 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
  return ms;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

const first = [];
const restart = [];
for (let i = 0; i < RUNS; i++) {
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-bench-'));
  try {
    first.push(await once(dir));
    restart.push(await once(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const fmt = (x) => `${Math.round(x)} ms`;
for (const [name, xs] of [
  ['first boot (empty DATA_DIR)', first],
  ['restart (existing DATA_DIR)', restart],
]) {
  const s = stats(xs);
  console.log(`${name.padEnd(30)} median ${fmt(s.median)}  min ${fmt(s.min)}  max ${fmt(s.max)}  (n=${xs.length})`);
}

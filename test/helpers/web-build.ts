import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * globalSetup of the `web` project: builds the dashboard (API types from the server's own
 * /openapi.json, type-check, Vite) into web/dist, which the test servers then serve at / as
 * `npm start` does. Built once per run, so the browser tests exercise the files users get.
 */
export default function buildDashboard(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync('npm', ['run', '-s', 'build', '-w', 'web'], {
    cwd: root,
    stdio: 'inherit',
    // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (!existsSync(`${root}/web/dist/index.html`)) throw new Error('the dashboard build wrote no web/dist/index.html');
}

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { until, waitForJob } from '../helpers/wait.js';
import { runSetprivTests } from '../helpers/sandbox-tools.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const tsx = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Gone, or a zombie nobody reaps (PID 1 in a container may not). */
async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && stat.split(') ')[1]?.[0] !== 'Z';
}

/** The pid of the process whose command line holds `needle`, if any. */
async function findProcess(needle: string): Promise<number | null> {
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(needle) && (await isAlive(Number(name)))) return Number(name);
  }
  return null;
}

// The kernel does it (PR_SET_PDEATHSIG), set through util-linux setpriv; without it the worker logs a warning instead.

describe.runIf(runSetprivTests)('a trainer dies with its worker', () => {
  it('SIGKILL of the worker process also ends a silent trainer (one that never writes, so no broken pipe tells it)', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-death-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const echo = (testTrainers().trainers as Array<{ id: string }>).find((d) => d.id === 'echo')!;
    const silent = {
      ...echo,
      id: 'silent',
      runtime: { type: 'command', entry: 'silent', command: [process.execPath, path.join(FIXTURES, 'trainers', 'silent.mjs')] },
    };
    await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers({ silent })));

    const worker = fork(path.join(FIXTURES, 'worker-child.ts'), [], {
      execArgv: ['--import', tsx],
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = once(worker, 'exit');
    cleanups.push(() => worker.exitCode === null && worker.signalCode === null && worker.kill('SIGKILL'));
    const [{ url }] = (await once(worker, 'message')) as [{ url: string }];

    const api = client(url);
    const u = await api.user('victim');
    const ds = await csvDataset(api, u.token, 'd');
    const job = await api.post('/v1/jobs', { trainer: 'silent', dataset_id: ds, output: { model_name: 'silent' } }, u.token);
    expect(job.status).toBe(202);
    await waitForJob(api, u.token, job.body.id, ['running']);
    // Its command line names its own job folder: no other process's can match.
    const trainer = (await until(() => findProcess(`${job.body.id}-a1/job.json`), { message: 'the trainer process' }))!;
    // Whatever happens below, the trainer must not outlive this test.
    cleanups.push(() => {
      try {
        process.kill(trainer, 'SIGKILL');
      } catch {
        // Already gone: the point of the test.
      }
    });

    worker.kill('SIGKILL');
    await exited;
    await until(async () => !(await isAlive(trainer)), { timeoutMs: 5000, message: `trainer ${trainer} to die with its worker` });
  });
});

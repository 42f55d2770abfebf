import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { specHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { linearClassifier } from '../../src/trainers/builtin/linear-classifier/catalog.js';
import { builtinTrainerCommand, jobSpec } from '../helpers/trainer-run.js';
import { until } from '../helpers/wait.js';

let dir: string;
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Running, and not a zombie waiting for a reaper that this container's init may never be. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !existsSync(`/proc/${pid}/status`) || !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

it('a built-in trainer whose worker dies stops by itself, leaving a checkpoint', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trainyard-watchdog-'));
  const rows = ['a,b,label'];
  for (let i = 0; i < 2000; i++) rows.push(`${Math.random()},${Math.random()},${i % 2 ? 'x' : 'y'}`);
  await writeFile(path.join(dir, 'd.csv'), rows.join('\n'));
  for (const d of ['out', 'ckpt']) await mkdir(path.join(dir, d));
  const spec = jobSpec({
    job_id: 'job_w',
    trainer: 'linear-classifier',
    hyperparameters: specHyperparameters(linearClassifier, { epochs: 10000, learning_rate: 0.1, batch_size: 1, l2: 0, validation_split: 0.2, seed: 1 }),
    dataset: { kind: 'tabular-csv', options: { label_column: 'label' }, files: [path.join(dir, 'd.csv')] },
    output_dir: path.join(dir, 'out'),
    checkpoint_dir: path.join(dir, 'ckpt'),
  });
  await writeFile(path.join(dir, 'job.json'), JSON.stringify(spec));
  // The shell stands in for the worker (so not startTrainer, which would be the parent): it
  // starts the trainer (output to a file, so no EPIPE can stop it), prints its pid, and exits
  // when its stdin closes: the trainer is orphaned.
  const command = [...builtinTrainerCommand('linear-classifier'), '--spec', path.join(dir, 'job.json')].map((a) => `'${a}'`).join(' ');
  const sh = spawn('sh', ['-c', `${command} > "${dir}/out.log" 2>&1 & echo $!; read _`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  sh.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => sh.on('exit', r));
  const pid = Number(await until(() => out.trim()));
  expect(pid).toBeGreaterThan(0);
  // The trainer notes its parent before it writes its first event; a parent gone before that
  // would not be noticed. So the "worker" dies only once the trainer has said something.
  await until(() => existsSync(path.join(dir, 'out.log')) && readFileSync(path.join(dir, 'out.log'), 'utf8').includes('"type"'), {
    timeoutMs: 15_000,
    message: 'the first event of the trainer',
  });
  sh.stdin.end();
  await exited;
  await until(() => !alive(pid), { timeoutMs: 15_000, intervalMs: 100, message: `the orphaned trainer (pid ${pid}) to stop by itself` });
  expect((await readdir(path.join(dir, 'ckpt'))).some((f) => f.startsWith('ckpt-'))).toBe(true);
}, 30_000);

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrainer, type ExitInfo } from '../../src/executors/local.js';
import { Sandbox, limitsOf, type JobLimits } from '../../src/executors/sandbox.js';
import type { TrainerEvent } from '../../src/trainers/protocol.js';
import { hasSetpriv, runSetprivTests } from '../helpers/sandbox-tools.js';

const PROBE = fileURLToPath(new URL('../fixtures/trainers/sandbox-probe.mjs', import.meta.url));
// Switching users needs root and util-linux; where either is missing the sandbox degrades (and says so).
const confinable = process.getuid?.() === 0 && runSetprivTests;

let dataDir: string;
let workDir: string;
let sandbox: Sandbox;
const warnings: string[] = [];
let jobs = 0;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'trainyard-sandbox-'));
  workDir = path.join(dataDir, 'work');
  // A secret left world-readable by mistake: the folder around it must still keep trainers out.
  writeFileSync(path.join(dataDir, 'secret.key'), 'hunter2', { mode: 0o644 });
  mkdirSync(path.join(dataDir, 'storage'));
  writeFileSync(path.join(dataDir, 'storage', 'blob'), 'data', { mode: 0o644 });
  sandbox = new Sandbox({ mode: 'auto', uid: 61184, uidCount: 64, cpuSeconds: 0 }, { dataDir, workDir, readable: [] }, (m) => warnings.push(m));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Stages a job folder the way the worker does, runs the probe confined, returns its result details. */
async function probe(hp: Record<string, unknown>, limits: JobLimits = {}, dir = newJobDir()) {
  const specPath = path.join(dir, 'job.json');
  writeFileSync(specPath, JSON.stringify({ protocol: 1, hyperparameters: hp }));
  const confined = await sandbox.confine([process.execPath, PROBE], dir, limits);
  const events: TrainerEvent[] = [];
  const stderr: string[] = [];
  const t = await startTrainer({
    command: confined.argv,
    specPath,
    cwd: dir,
    onEvent: (e) => events.push(e),
    onOutput: (o) => stderr.push(o.line),
  });
  const exit: ExitInfo = await t.done;
  confined.release();
  const result = events.find((e) => e.type === 'result');
  return { exit, stderr, details: (result?.type === 'result' ? result.details : undefined) as Record<string, any> | undefined, uid: confined.uid };
}

function newJobDir(): string {
  const dir = path.join(workDir, `job${++jobs}-a1`);
  for (const sub of ['inputs', 'output', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true });
  return dir;
}

describe.runIf(confinable)('trainer sandbox (root, util-linux)', () => {
  it('runs the trainer as its own uid, in a private folder it can write and the worker can read', async () => {
    const dir = newJobDir();
    const r = await probe({}, {}, dir);
    expect(r.exit.code).toBe(0);
    expect(r.details!.uid).toBe(r.uid);
    expect(r.uid).not.toBe(0);
    expect(r.details!.write).toBe('ok');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(dir, 'output', 'written.txt'), 'utf8')).toBe('mine');
    expect(warnings).toEqual([]);
  });

  it('gives a uid back when the job folder cannot be handed to it, so failures do not use the range up', async () => {
    const one = new Sandbox({ mode: 'auto', uid: 61250, uidCount: 1, cpuSeconds: 0 }, { dataDir, workDir, readable: [] }, (m) => warnings.push(m));
    // chown of a folder that is not there fails, as it does on a root-squashed or read-only DATA_DIR.
    for (const n of [1, 2]) await expect(one.confine(['true'], path.join(workDir, `missing-${n}`), {})).rejects.toThrow(/ENOENT/);
    const ok = await one.confine(['true'], newJobDir(), {});
    expect(ok.uid).toBe(61250);
    ok.release();
  });

  it('cannot open a file under DATA_DIR nor another job’s folder, also one made after the worker started', async () => {
    mkdirSync(path.join(dataDir, 'serving'));
    writeFileSync(path.join(dataDir, 'serving', 'model.bin'), 'weights', { mode: 0o644 });
    const other = newJobDir();
    writeFileSync(path.join(other, 'inputs', 'data.csv'), 'a,b\n1,2\n', { mode: 0o644 });
    // The other job runs at the same time: it holds its own uid.
    const held = await sandbox.confine(['true'], other, {});
    const secret = path.join(dataDir, 'secret.key');
    const blob = path.join(dataDir, 'storage', 'blob');
    const theirs = path.join(other, 'inputs', 'data.csv');
    const served = path.join(dataDir, 'serving', 'model.bin');
    const r = await probe({ read: [secret, blob, theirs, served] });
    held.release();
    expect(r.details!.read).toEqual({ [secret]: 'EACCES', [blob]: 'EACCES', [theirs]: 'EACCES', [served]: 'EACCES' });
    expect(held.uid).not.toBe(r.uid);
  });

  it('reads a base model under DATA_DIR even when its weights were saved 0600', async () => {
    const model = path.join(dataDir, 'models', 'tiny');
    mkdirSync(path.join(model, 'vae'), { recursive: true });
    writeFileSync(path.join(model, 'vae', 'weights.safetensors'), 'w', { mode: 0o600 });
    const file = path.join(model, 'vae', 'weights.safetensors');
    const r = await probe({ read: [file, path.join(dataDir, 'secret.key')] }, { readable: [model] });
    expect(r.details!.read).toEqual({ [file]: 'ok', [path.join(dataDir, 'secret.key')]: 'EACCES' });
  });

  it('has no network unless the catalog entry asks for it', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const closed = await probe({ connect: port });
      expect(closed.details!.connect).not.toBe('ok');
      const open = await probe({ connect: port }, limitsOf({ memory_mb: 64, network: true }));
      expect(open.details!.connect).toBe('ok');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('enforces resources.memory_mb (on top of the runtime’s headroom)', async () => {
    const fits = await probe({ alloc_mb: 32 }, limitsOf({ memory_mb: 64 }));
    expect(fits.details!.alloc).toBe(32);
    // Well past memory_mb plus the runtime's headroom (256 MiB on Node 20, 1,536 on 22+).
    const over = await probe({ alloc_mb: 3072 }, limitsOf({ memory_mb: 64 }));
    expect(over.exit.code).not.toBe(0);
    expect(over.details).toBeUndefined();
  });

  it('enforces resources.cpu_seconds: a spinning trainer is killed by the kernel', async () => {
    const r = await probe({ spin: true }, limitsOf({ memory_mb: 64, cpu_seconds: 1 }));
    expect(['SIGXCPU', 'SIGKILL']).toContain(r.exit.signal);
  });
});

// Where the confinement tests cannot run (a worker that is not root), the sandbox's promise is
// to degrade loudly: that is what is checked there, rather than nothing.
describe.skipIf(confinable)('trainer sandbox without root or setpriv', () => {
  it('runs the trainer unconfined and logs why, once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-sandbox-degraded-'));
    const said: string[] = [];
    try {
      const sb = new Sandbox({ mode: 'auto', uid: 61184, uidCount: 1, cpuSeconds: 0 }, { dataDir: dir, workDir: path.join(dir, 'work'), readable: [] }, (m) =>
        said.push(m),
      );
      const first = await sb.confine(['node', 'x.mjs'], dir, {});
      await sb.confine(['node', 'x.mjs'], dir, {});
      expect(first.uid).toBeNull();
      expect(said.some((m) => /not root|setpriv/.test(m))).toBe(true);
      expect(new Set(said).size).toBe(said.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trainer sandbox, switched off', () => {
  it('TRAINER_SANDBOX=off runs the argv as the worker’s own user, unlimited, touching no folder; it still dies with the worker', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-sandbox-off-'));
    try {
      const off = new Sandbox(
        { mode: 'off', uid: 61184, uidCount: 1, cpuSeconds: 0 },
        { dataDir: dir, workDir: path.join(dir, 'work'), readable: [] },
        () => {},
      );
      const c = await off.confine(['node', 'x.mjs'], dir, { memoryMb: 10 });
      expect(c).toMatchObject({ argv: [...(hasSetpriv ? ['setpriv', '--pdeathsig', 'KILL', '--'] : []), 'node', 'x.mjs'], uid: null });
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('limitsOf reads the catalog entry’s resources', () => {
    expect(limitsOf({ memory_mb: 100, cpu_seconds: 60, network: true })).toEqual({ memoryMb: 100, cpuSeconds: 60, network: true });
    expect(limitsOf(undefined)).toEqual({ network: false });
  });
});

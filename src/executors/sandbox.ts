/**
 * Confines a trainer process with what Linux offers without extra daemons: its own user
 * (setpriv), no new privileges, death with the worker (PR_SET_PDEATHSIG through setpriv), a
 * memory and CPU-time limit (prlimit: RLIMIT_DATA, RLIMIT_CPU), no network (unshare -n), a
 * private job folder (0700, owned by the trainer's user) and no way into DATA_DIR. A trainer
 * registered by an admin is still code we did not write: it gets the least it needs.
 *
 * Every capability is probed once; a missing one is told by ONE warning and then skipped, so a
 * laptop without root still runs trainers (as its own user), just less confined.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PDEATHSIG = ['setpriv', '--pdeathsig', 'KILL', '--'];

// memory_mb is what the training needs; the interpreter itself (node's V8 heap setup, Python's
// imports) comes on top: Node 20 aborts at start under ~100 MiB of RLIMIT_DATA. Newer V8s
// reserve address space per isolate up front and the kernel counts it: Node 26.12 dies with
// "Failed to reserve virtual memory for CodeRange" below ~600 MiB for one isolate and ~1,100 MiB
// for two (a worker thread, or tsx's loader thread when running from source), measured with
// prlimit --data. RLIMIT_DATA is a coarse cap there; a cgroup's memory.max would be the exact one.
export const RUNTIME_HEADROOM_MB = Number(process.versions.node.split('.')[0]) >= 22 ? 1536 : 256;

export interface SandboxSettings {
  /** auto: confine as far as this machine allows; off: run trainers as the worker's user, unconfined. */
  mode: 'auto' | 'off';
  /** First uid (and gid) of the range trainers run as when the worker is root. */
  uid: number;
  /** Size of that range: concurrent jobs get different uids, so they cannot reach each other. */
  uidCount: number;
  /** RLIMIT_CPU (seconds) when the catalog entry sets no resources.cpu_seconds; 0: none. */
  cpuSeconds: number;
}

export interface SandboxPaths {
  dataDir: string;
  workDir: string;
  /** Folders trainers must read inside DATA_DIR (the Python environment). */
  readable: string[];
}

/** What one job may use (from its catalog entry's `resources`). */
export interface JobLimits {
  memoryMb?: number;
  cpuSeconds?: number;
  network?: boolean;
  /** Extra folders the trainer reads (a base model's local_path). */
  readable?: string[];
}

export interface Confinement {
  /** The argv to spawn: the launch chain followed by the trainer's own argv. */
  argv: string[];
  /** The uid the trainer runs as; null: the worker's own. */
  uid: number | null;
  /** Returns the uid to the pool once the trainer has exited. */
  release(): void;
}

export interface SpareConfinement extends Confinement {
  /** Hands the job folder (and the shared inputs it reads) to the spare's uid. */
  admit(jobDir: string, readable: string[]): Promise<void>;
}

interface Caps {
  setpriv: boolean;
  pdeathsig: boolean;
  switchUser: boolean;
  prlimit: boolean;
  unshareNet: boolean;
}

type Warn = (msg: string) => void;

export class Sandbox {
  private caps: Promise<Caps> | null = null;
  private readonly inUse = new Set<number>();

  constructor(
    readonly settings: SandboxSettings,
    private readonly paths: SandboxPaths,
    private readonly warn: Warn,
  ) {}

  /** Probes the machine and locks DATA_DIR down, once. */
  ready(): Promise<Caps> {
    this.caps ??= this.probe();
    return this.caps;
  }

  async confine(argv: string[], jobDir: string, limits: JobLimits): Promise<Confinement> {
    const caps = await this.ready();
    const uid = this.settings.mode !== 'off' && caps.switchUser ? this.takeUid(path.basename(jobDir)) : null;
    await this.admitOrGiveBack(uid, jobDir, limits.readable ?? []);
    return this.launch(caps, uid, argv, limits);
  }

  /**
   * For a process started before its job exists (a warm trainer, warm-pool.ts): confined as
   * confine() would, with a uid of its own from now on and `home` (its folder until then) given
   * to it; the job folder becomes that uid's when the job arrives (admit), before the process is
   * told where it is.
   */
  async confineSpare(argv: string[], home: string, limits: JobLimits): Promise<SpareConfinement> {
    const caps = await this.ready();
    const uid = this.settings.mode !== 'off' && caps.switchUser ? this.takeUid(path.basename(home)) : null;
    await this.admitOrGiveBack(uid, home, []);
    return { ...this.launch(caps, uid, argv, limits), admit: (jobDir, readable) => this.admit(uid, jobDir, readable) };
  }

  /**
   * admit(), with the uid back in the pool when the folder cannot be handed over (chown refused
   * on a root-squashed or read-only DATA_DIR): nothing was started to release it later, and
   * TRAINER_UID_COUNT such failures left no uid for any job.
   */
  private async admitOrGiveBack(uid: number | null, dir: string, readable: string[]): Promise<void> {
    try {
      await this.admit(uid, dir, readable);
    } catch (err) {
      if (uid !== null) this.inUse.delete(uid);
      throw err;
    }
  }

  /** Everything staged for the job (inputs, spec, resume checkpoint) becomes the trainer's, and no one else's. */
  private async admit(uid: number | null, jobDir: string, readable: string[]): Promise<void> {
    if (uid === null) return;
    // Again for every job: folders made in DATA_DIR since (serving's model cache) close too.
    await this.lockDown();
    await chownTree(jobDir, uid);
    await chmod(jobDir, 0o700);
    for (const p of readable) await grantRead(p);
  }

  private launch(caps: Caps, uid: number | null, argv: string[], limits: JobLimits): Confinement {
    // Dying with the worker is not confinement: a trainer nobody supervises any more only
    // burns the machine, so even TRAINER_SANDBOX=off keeps it.
    if (this.settings.mode === 'off') return { argv: caps.pdeathsig ? [...PDEATHSIG, ...argv] : argv, uid: null, release: () => {} };
    const prefix: string[] = [];
    if (caps.unshareNet && !limits.network) prefix.push('unshare', '--net', '--');
    const cpu = limits.cpuSeconds ?? this.settings.cpuSeconds;
    const rlimits: string[] = [];
    // RLIMIT_DATA, not RLIMIT_AS: V8 and CUDA reserve gigabytes of address space they never
    // touch; private writable memory is what a leaking trainer actually grows.
    if (limits.memoryMb && limits.memoryMb > 0) rlimits.push(`--data=${(limits.memoryMb + RUNTIME_HEADROOM_MB) * 1024 * 1024}`);
    // Soft limit: SIGXCPU; the hard one, a little later, SIGKILL for a trainer that catches it.
    if (cpu > 0) rlimits.push(`--cpu=${cpu}:${cpu + 5}`);
    if (caps.prlimit && rlimits.length > 0) prefix.push('prlimit', ...rlimits, '--');
    if (caps.setpriv) {
      prefix.push('setpriv');
      if (uid !== null) prefix.push('--reuid', String(uid), '--regid', String(uid), '--clear-groups');
      prefix.push('--no-new-privs');
      // setpriv sets it after switching user (a uid change clears it), right before exec.
      if (caps.pdeathsig) prefix.push('--pdeathsig', 'KILL');
      prefix.push('--');
    }
    let released = false;
    return {
      argv: [...prefix, ...argv],
      uid,
      release: () => {
        if (released || uid === null) return;
        released = true;
        this.inUse.delete(uid);
      },
    };
  }

  /** A uid from the range, picked from the job folder's name so parallel workers rarely collide, and never reused while in use here. */
  private takeUid(name: string): number {
    const { uid, uidCount } = this.settings;
    let h = 2166136261;
    for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    for (let i = 0; i < uidCount; i++) {
      const u = uid + ((h + i) % uidCount);
      if (!this.inUse.has(u)) {
        this.inUse.add(u);
        return u;
      }
    }
    throw new Error(`all ${uidCount} trainer uids from ${uid} are in use`);
  }

  private async probe(): Promise<Caps> {
    const ok = (file: string, args: string[]) =>
      run(file, args, { timeout: 10_000 }).then(
        (r) => r.stdout + r.stderr,
        () => null,
      );
    const help = await ok('setpriv', ['--help']);
    const setpriv = help !== null;
    const pdeathsig = setpriv && help.includes('--pdeathsig');
    if (this.settings.mode === 'off') {
      if (!pdeathsig) this.warn('trainer sandbox off, and no setpriv --pdeathsig: a trainer may outlive a killed worker');
      return { setpriv: false, pdeathsig, switchUser: false, prlimit: false, unshareNet: false };
    }
    const root = process.getuid?.() === 0;
    const prlimit = (await ok('prlimit', ['--version'])) !== null;
    const unshareNet = (await ok('unshare', ['--net', '--', 'true'])) !== null;
    if (!setpriv) this.warn('trainer sandbox: setpriv (util-linux) not found: trainers keep the worker’s user and privileges and do not die with the worker');
    else if (!pdeathsig) this.warn('trainer sandbox: this setpriv has no --pdeathsig: a trainer may outlive a killed worker');
    if (!root) this.warn('trainer sandbox: the worker is not root: trainers run as the worker’s own user and can read what it can (DATA_DIR included)');
    if (!prlimit) this.warn('trainer sandbox: prlimit (util-linux) not found: no memory or CPU-time limit on trainers');
    if (!unshareNet) this.warn('trainer sandbox: cannot create a network namespace (unshare --net): trainers have network access');
    const switchUser = setpriv && root;
    if (switchUser) await this.lockDown();
    return { setpriv, pdeathsig, switchUser, prlimit, unshareNet };
  }

  /**
   * DATA_DIR holds the database, storage and the secret: trainers' users must not read it.
   * Only the way to the job folders and the Python environment stays open, and only to pass
   * through (x, not r): another job's folder is 0700 and owned by another uid.
   */
  private async lockDown(): Promise<void> {
    const { dataDir, workDir } = this.paths;
    await mkdir(workDir, { recursive: true });
    const keep = [workDir, ...this.paths.readable].map((p) => path.resolve(p));
    const inside = keep.filter((p) => p.startsWith(path.resolve(dataDir) + path.sep));
    await lockDir(path.resolve(dataDir), inside);
    await chmod(workDir, 0o711);
    for (const p of keep) await grantTraverse(p);
  }
}

/** Closes `dir` and everything in it to others, except the path to each of `keep`, which stays passable. */
async function lockDir(dir: string, keep: string[]): Promise<void> {
  const s = await stat(dir);
  const passable = keep.some((k) => k.startsWith(dir + path.sep));
  await chmod(dir, passable ? (s.mode & 0o770) | 0o001 : s.mode & 0o770);
  if (!passable) return;
  for (const name of await readdir(dir)) {
    const full = path.join(dir, name);
    if (keep.includes(full)) continue;
    const l = await lstat(full);
    // chmod follows links: a link's target is not ours to change, and closing its parent suffices.
    if (l.isSymbolicLink()) continue;
    if (l.isDirectory() && keep.some((k) => k.startsWith(full + path.sep))) await lockDir(full, keep);
    else await chmod(full, l.mode & 0o770);
  }
}

/** Adds o+x (pass through, not list) to every folder above `p` that lacks it and that we own. */
async function grantTraverse(p: string): Promise<void> {
  const me = process.getuid?.();
  let dir = path.dirname(path.resolve(p));
  for (;;) {
    const s = await stat(dir).catch(() => null);
    if (s && s.uid === me && !(s.mode & 0o001)) await chmod(dir, (s.mode & 0o7777) | 0o001);
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * Makes a shared input (a registered base model) readable by any trainer uid: o+r on its files,
 * o+rx on its folders, and a way to it. Libraries save weights 0600 (safetensors does), and a
 * base model is not a secret: every job naming it is given it. Links (a Hugging Face cache's
 * snapshot → blob) are followed to their target.
 */
async function grantRead(p: string, depth = 0): Promise<void> {
  if (depth === 0) await grantTraverse(p);
  const l = await lstat(p).catch(() => null);
  if (!l || depth > 32) return;
  if (l.isSymbolicLink()) {
    const target = await realpath(p).catch(() => null);
    if (target) {
      await grantTraverse(target);
      await grantRead(target, depth + 1);
    }
    return;
  }
  const want = l.isDirectory() ? 0o005 : 0o004;
  if ((l.mode & want) !== want) await chmod(p, (l.mode & 0o7777) | want);
  if (l.isDirectory()) for (const name of await readdir(p)) await grantRead(path.join(p, name), depth + 1);
}

async function chownTree(dir: string, uid: number): Promise<void> {
  await chown(dir, uid, uid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) await chownTree(full, uid);
    else await chown(full, uid, uid);
  }
}

/** The sandbox limits of a catalog entry: resources.memory_mb, resources.cpu_seconds, resources.network. */
export function limitsOf(resources: { memory_mb?: number; cpu_seconds?: number; network?: boolean } | undefined): JobLimits {
  const r = resources ?? {};
  return {
    ...(typeof r.memory_mb === 'number' && r.memory_mb > 0 ? { memoryMb: Math.ceil(r.memory_mb) } : {}),
    ...(typeof r.cpu_seconds === 'number' && r.cpu_seconds > 0 ? { cpuSeconds: Math.ceil(r.cpu_seconds) } : {}),
    network: r.network === true,
  };
}

/**
 * Warm trainers (WARM_TRAINERS, issue #15): per kind of Node trainer, ONE process already
 * started — node booted, its loader and heavy imports (tfjs) done, inside the same sandbox a
 * cold start gets (own uid, no network, prlimits, pdeathsig) — waiting on stdin for its job
 * (warm-host.ts). A job takes it, and the next spare is started in the background. A spare
 * serves exactly one job and exits: jobs never share a process.
 *
 * A "kind" is everything fixed when the process starts: interpreter and flags, preloads, the
 * runtime's env and the sandbox limits. The job folder, environment (HOME, TMPDIR, GPUs) and
 * argv are the job's, sent in the line; the folder is handed to the spare's uid first.
 * No spare (first job of a kind, two at once, a spare that died): the job starts cold.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WarmNode } from '../trainers/runtimes/index.js';
import { signalGroup, supervise, trainerEnv, type RunningTrainer, type StartOptions, type TrainerChild } from './local.js';
import type { JobLimits, Sandbox, SpareConfinement } from './sandbox.js';
import { PRIMER, WARM_HOST_SOURCE } from './warm-host.js';

let spares = 0;

interface Spare {
  key: string;
  child: TrainerChild & { stdin: NodeJS.WritableStream };
  confined: SpareConfinement;
  exited: Promise<void>;
  dead: boolean;
}

export interface WarmPoolOptions {
  /** Where spares wait (their cwd until the job's): the job folders' parent, passable to every trainer uid. */
  workDir: string;
  sandbox?: Sandbox | undefined;
  warn: (msg: string, err?: unknown) => void;
}

export class WarmPool {
  private readonly idle = new Map<string, Spare>();
  private readonly starting = new Map<string, Promise<void>>();
  /** Every spare not yet handed a job: what close() kills. */
  private readonly waiting = new Set<Spare>();
  private closed = false;

  constructor(private readonly o: WarmPoolOptions) {}

  /**
   * Starts the job on this kind's spare and returns it running, or null when there is none
   * (the caller starts it cold). Either way the kind's next spare is started in the background.
   */
  async start(w: WarmNode, env: Record<string, string>, limits: JobLimits, opts: StartOptions): Promise<RunningTrainer | null> {
    if (this.closed) return null;
    const key = JSON.stringify([w.node, w.preload, env, limits.memoryMb ?? 0, limits.cpuSeconds ?? 0, limits.network === true]);
    // A spare being spawned right now is never further from its first line than a cold start.
    if (!this.idle.has(key)) await this.starting.get(key);
    const spare = this.idle.get(key);
    this.idle.delete(key);
    // Right after this job's hand-over, not later: delaying it (tried: 100 ms) lets a quick next
    // job of the kind find a spare still booting, which costs more than the CPU it competes for.
    const refill = () => setImmediate(() => this.refill(key, w, env, limits));
    if (!spare || spare.dead) {
      refill();
      return null;
    }
    try {
      await spare.confined.admit(opts.cwd, limits.readable ?? []);
    } catch (err) {
      this.o.warn('warm trainer: could not hand the job folder over; starting cold', err);
      this.kill(spare);
      refill();
      return null;
    }
    // exitCode/signalCode are set when 'exit' is emitted: alive now means supervise() sees it exit.
    if (spare.dead || spare.child.exitCode !== null || spare.child.signalCode !== null) {
      refill();
      return null;
    }
    this.waiting.delete(spare);
    const trainer = supervise(spare.child, opts);
    const job = { module: w.module, argv: [...w.args, '--spec', opts.specPath], cwd: opts.cwd, env: trainerEnv(opts) };
    spare.child.stdin.end(JSON.stringify(job) + '\n');
    refill();
    return trainer;
  }

  /** Kills every waiting spare (and stops starting new ones); running jobs are their JobRun's to stop. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.starting.values());
    const all = [...this.waiting];
    for (const s of all) this.kill(s);
    await Promise.all(all.map((s) => s.exited));
    this.idle.clear();
  }

  /** Only for a spare without a job: nobody reads its pipes, so they are drained to let them close. */
  private kill(s: Spare): void {
    this.waiting.delete(s);
    s.child.stdout.resume();
    s.child.stderr.resume();
    if (!s.dead) signalGroup(s.child.pid!, 'SIGKILL');
  }

  private refill(key: string, w: WarmNode, env: Record<string, string>, limits: JobLimits): void {
    if (this.closed || this.idle.has(key) || this.starting.has(key)) return;
    const p = this.spawnSpare(key, w, env, limits)
      .then((s) => {
        // Started while closing: close() waits for this, then kills it with the other waiting ones.
        if (s && !this.closed) this.idle.set(key, s);
      })
      .catch((err) => this.o.warn('warm trainer: could not start a spare; jobs of this kind start cold', err))
      .finally(() => this.starting.delete(key));
    this.starting.set(key, p);
  }

  private async spawnSpare(key: string, w: WarmNode, env: Record<string, string>, limits: JobLimits): Promise<Spare | null> {
    // Its folder until it has a job (HOME, TMPDIR: a loader's cache goes there), removed when it exits.
    const home = path.join(this.o.workDir, `.warm-${process.pid}-${++spares}`);
    await mkdir(path.join(home, 'tmp'), { recursive: true });
    const prime = path.join(home, 'prime.mjs');
    await writeFile(prime, PRIMER);
    const argv = [...w.node, '--input-type=module', '-e', WARM_HOST_SOURCE, '--', '--prime', prime, ...w.preload.flatMap((m) => ['--preload', m])];
    let confined: SpareConfinement;
    try {
      confined = this.o.sandbox
        ? await this.o.sandbox.confineSpare(argv, home, { ...limits, readable: [] })
        : { argv, uid: null, release: () => {}, admit: async () => {} };
    } catch (err) {
      await rm(home, { recursive: true, force: true });
      throw err;
    }
    const cleanup = () => {
      confined.release();
      rm(home, { recursive: true, force: true }).catch(() => {});
    };
    if (this.closed) {
      cleanup();
      return null;
    }
    const [file, ...args] = confined.argv;
    const child = spawn(file!, args, {
      cwd: home,
      env: trainerEnv({ cwd: home, env }),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, like a cold trainer: stop() and the clean-up reach what it forks.
      detached: true,
    }) as Spare['child'];
    let onExit!: () => void;
    const spare: Spare = { key, child, confined, dead: false, exited: new Promise<void>((r) => (onExit = r)) };
    // A spare that dies before its job is told once, with its exit; its uid goes back on any exit.
    child.stdin.on('error', () => {});
    child.once('exit', (code, signal) => {
      spare.dead = true;
      cleanup();
      if (this.waiting.delete(spare)) {
        if (this.idle.get(key) === spare) this.idle.delete(key);
        if (!this.closed) this.o.warn(`warm trainer: a spare exited before its job (code ${code}, signal ${signal}); the next job of its kind starts cold`);
        child.stdout.resume();
        child.stderr.resume();
      }
      onExit();
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => {
        spare.dead = true;
        cleanup();
        reject(err);
      });
    });
    // From here on supervise() reports errors (after adoption); until then they only mean it is dead.
    child.on('error', () => {});
    this.waiting.add(spare);
    return spare;
  }
}

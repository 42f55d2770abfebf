import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { SlurmRestClient, type SlurmApiVersion } from '../../src/executors/slurm/rest.js';
import { signSlurmToken } from '../../src/executors/slurm/token.js';
import { freePort } from './pg-programs.js';
import { waitFor } from './wait.js';

/**
 * A one-node Slurm cluster on loopback, all of it in one temporary folder: munged (its key and
 * socket there), slurmctld, slurmd with one fake GPU, and slurmrestd with JWT auth. Debian's
 * packages (`.ci/run` installs them); the system's own munge and Slurm paths are never used.
 * Root is needed: slurmd starts each job as its user. slurmrestd refuses root, so it runs as the
 * unprivileged RUN_USER, which also owns the test jobs.
 */

/** What tests get: plain data, so it crosses from globalSetup into the test workers. */
export interface SlurmClusterInfo {
  /** slurmrestd's base URL. */
  url: string;
  userName: string;
  /** A JWT for userName (HS256 over the cluster's key), valid for the whole run. */
  token: string;
  /** The OpenAPI version slurmrestd serves that the client speaks, e.g. `v0.0.38`. */
  version: SlurmApiVersion;
  /** Slurm's release, e.g. `22.05.8`. */
  release: string;
  dir: string;
  /** Owned by userName: jobs write here. */
  jobsDir: string;
  nodeName: string;
  /** The cluster's SlurmdTimeout: how long slurmctld waits before a silent node is down. */
  slurmdTimeoutS: number;
}

export interface SlurmCluster extends SlurmClusterInfo {
  stop(): Promise<void>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    slurm: SlurmClusterInfo;
  }
}

export const RUN_USER = 'trainyard-slurm';
const NODE = 'ty-node';
const SLURMD_TIMEOUT_S = 4;
// Every daemon gets this in its environment (slurmstepd inherits it from slurmd): stop() finds
// what is left of a cluster by it, even daemons and job steps that another process started.
const MARKER = 'TRAINYARD_SLURM_CLUSTER';

export class SlurmSetupError extends Error {
  readonly code = 'SLURM_SETUP';
  constructor(message: string) {
    super(message);
    this.name = 'SlurmSetupError';
  }
}

function need(bin: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new SlurmSetupError(`${bin} not found: install Debian's slurm-wlm munge slurmrestd slurm-wlm-jwt-plugin (.ci/run does)`);
  return found;
}

/** The run user's uid/gid, created (a system user, no home, no shell) when missing. */
function runUser(): { uid: number; gid: number } {
  const id = (flag: string) => spawnSync('id', [flag, RUN_USER], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', RUN_USER], {
      encoding: 'utf8',
    });
    if (r.status !== 0 && id('-u').status !== 0) throw new SlurmSetupError(`cannot create the user ${RUN_USER}: ${r.stderr}`);
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

function slurmConf(dir: string, ports: { ctld: number; slurmd: number }): string {
  // slurmctld only runs where SlurmctldHost names this machine; the address keeps it on loopback.
  const host = os.hostname().split('.')[0];
  // Slurm drains a node whose configured memory exceeds what it finds: stay a little under.
  const memMiB = Math.floor(os.totalmem() / 2 ** 20) - 256;
  return `ClusterName=trainyard
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ports.ctld}
SlurmdPort=${ports.slurmd}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=${dir}/munge/munge.sock
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=${dir}/jwt_hs256.key
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# A container: no cgroups, no task binding; processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
# A restarted slurmd brings its node back by itself; a failed job is never requeued by Slurm.
ReturnToService=2
JobRequeue=0
SlurmdTimeout=${SLURMD_TIMEOUT_S}
SlurmctldTimeout=5
MessageTimeout=5
KillWait=2
InactiveLimit=0
# Ended jobs stay visible to GET /job/<id> for 5 minutes.
MinJobAge=300
NodeName=${NODE} NodeAddr=127.0.0.1 NodeHostname=${NODE} CPUs=${os.cpus().length} RealMemory=${memMiB} Gres=gpu:1 State=UNKNOWN
PartitionName=gpu Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
`;
}

/** The environment Slurm programs of this cluster run with (never the system's /etc/slurm). */
export function slurmEnv(dir: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin', SLURM_CONF: path.join(dir, 'slurm.conf'), [MARKER]: dir };
}

/** The node's state as sinfo reports it (`idle`, `mixed`, `allocated`, `down*`, ...). */
export function nodeState(info: Pick<SlurmClusterInfo, 'dir' | 'nodeName'>): string {
  const r = spawnSync('sinfo', ['-h', '-n', info.nodeName, '-o', '%T'], { encoding: 'utf8', env: slurmEnv(info.dir) });
  return r.status === 0 ? r.stdout.trim() : `sinfo failed: ${r.stderr.trim()}`;
}

/** slurmd's pid from its pid file; null when it is not running. */
export function slurmdPid(info: Pick<SlurmClusterInfo, 'dir'>): number | null {
  try {
    const pid = Number(readFileSync(path.join(info.dir, 'slurmd.pid'), 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/**
 * Starts slurmd (it daemonizes and writes its pid file), from whichever process calls this: the
 * cluster's stop() finds it by its marker. Resolves once slurmd is up and the node usable.
 */
export async function startSlurmd(info: Pick<SlurmClusterInfo, 'dir' | 'nodeName'>, timeoutMs = 30_000): Promise<number> {
  const r = spawnSync(need('slurmd'), ['-N', info.nodeName], { encoding: 'utf8', env: slurmEnv(info.dir) });
  if (r.status !== 0) throw new SlurmSetupError(`slurmd did not start (${r.status}): ${r.stderr}`);
  await waitFor(
    () => (slurmdPid(info) !== null ? nodeState(info) : 'no slurmd'),
    (s) => ['idle', 'mixed', 'allocated'].includes(s),
    { timeoutMs, intervalMs: 200, message: `node ${info.nodeName} to be usable` },
  );
  return slurmdPid(info)!;
}

/** Every process of the cluster: the daemons, slurmstepd, and whatever the jobs started. */
export function clusterProcesses(dir: string): number[] {
  const marked = new Set<number>();
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${MARKER}=${dir}`)) marked.add(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  // Job processes carry the job's environment, not the marker: they are the steps' descendants.
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!marked.has(pid) && marked.has(ppid)) {
        marked.add(pid);
        grew = true;
      }
    }
  }
  return [...marked];
}

export async function startSlurmCluster(): Promise<SlurmCluster> {
  if (process.getuid?.() !== 0) throw new SlurmSetupError('the Slurm test cluster needs root (slurmd starts jobs as their user); CI runs as root');
  const bins = Object.fromEntries(['munged', 'slurmctld', 'slurmd', 'slurmrestd', 'sinfo'].map((b) => [b, need(b)]));
  const user = runUser();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trainyard-slurm-'));
  // Traversable: slurmrestd and the jobs run as the run user and read slurm.conf and the socket.
  chmodSync(dir, 0o755);
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const slurmd = slurmdPid({ dir });
    if (slurmd) process.kill(slurmd, 'SIGTERM');
    const daemonsUp = () => children.filter((c) => c.exitCode === null && c.signalCode === null).length + (slurmdPid({ dir }) ? 1 : 0);
    await waitFor(daemonsUp, (n) => n === 0, { timeoutMs: 5_000, intervalMs: 50, message: 'the Slurm daemons to exit' }).catch(() => {});
    // What is left: a daemon that ignored SIGTERM, and every slurmstepd with its job (they
    // outlive slurmd on purpose).
    await waitFor(
      () => {
        const left = clusterProcesses(dir);
        for (const pid of left) process.kill(pid, 'SIGKILL');
        return left;
      },
      (left) => left.length === 0,
      { timeoutMs: 5_000, intervalMs: 50, message: 'the Slurm processes to die' },
    );
    await rm(dir, { recursive: true, force: true });
  };
  const spawnDaemon = (name: string, bin: string, args: string[], extra: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], uid: extra.uid, gid: extra.gid, env: { ...slurmEnv(dir), ...extra.env } });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    children.push(child);
    // For a readiness wait: a daemon that exited while starting fails it at once, with its words.
    return () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new SlurmSetupError(`${name} exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    };
  };
  try {
    for (const sub of ['munge', 'state', 'spool', 'log', 'jobs']) await mkdir(path.join(dir, sub), { mode: 0o755 });
    chownSync(path.join(dir, 'jobs'), user.uid, user.gid);
    await writeFile(path.join(dir, 'munge', 'munge.key'), randomBytes(1024), { mode: 0o400 });
    await writeFile(path.join(dir, 'jwt_hs256.key'), randomBytes(32), { mode: 0o600 });
    // A character device, as a real /dev/nvidia0 is (195:0): slurmd marks a node whose gres.conf
    // names a plain file invalid. Nothing ever opens it: TaskPlugin=task/none constrains no devices.
    const gpu = path.join(dir, 'nvidia0');
    const mknod = spawnSync('mknod', ['-m', '666', gpu, 'c', '195', '0'], { encoding: 'utf8' });
    if (mknod.status !== 0) throw new SlurmSetupError(`mknod ${gpu} failed: ${mknod.stderr}`);
    const [ctld, slurmd, rest] = await distinctPorts(3);
    await writeFile(path.join(dir, 'slurm.conf'), slurmConf(dir, { ctld: ctld!, slurmd: slurmd! }));
    await writeFile(path.join(dir, 'gres.conf'), `Name=gpu File=${gpu}\n`);
    // slurmrestd and the jobs run as the run user: a TMPDIR under a private folder (/root/...)
    // would fail them later with far less clear words.
    if (spawnSync('test', ['-r', path.join(dir, 'slurm.conf')], user).status !== 0)
      throw new SlurmSetupError(`${RUN_USER} cannot read ${dir}: point TMPDIR at a folder every user can traverse (e.g. /tmp)`);

    const m = path.join(dir, 'munge');
    const mungedAlive = spawnDaemon('munged', bins.munged!, [
      '--foreground',
      `--socket=${m}/munge.sock`,
      `--key-file=${m}/munge.key`,
      `--pid-file=${m}/munged.pid`,
      `--log-file=${m}/munged.log`,
      `--seed-file=${m}/munged.seed`,
    ]);
    await waitFor(() => (mungedAlive(), existsSync(`${m}/munge.sock`)), Boolean, { timeoutMs: 10_000, intervalMs: 20, message: 'munged to listen' });

    const ctldAlive = spawnDaemon('slurmctld', bins.slurmctld!, ['-D', '-i']);
    await waitFor(() => (ctldAlive(), spawnSync(bins.sinfo!, ['-h'], { env: slurmEnv(dir) }).status === 0), Boolean, {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: 'slurmctld to answer sinfo',
    });
    await startSlurmd({ dir, nodeName: NODE });

    const restArgs = ['-a', 'rest_auth/jwt', '-s', openapiPlugins(bins.slurmrestd!, dir, user).join(','), `127.0.0.1:${rest}`];
    // SLURM_JWT=daemon: slurmrestd passes each client's token on to slurmctld instead of munge.
    const restAlive = spawnDaemon('slurmrestd', bins.slurmrestd!, restArgs, { ...user, env: { SLURM_JWT: 'daemon' } });
    const key = readFileSync(path.join(dir, 'jwt_hs256.key'));
    const token = await signSlurmToken({ key, userName: RUN_USER, lifespanS: 24 * 3600 });
    const url = `http://127.0.0.1:${rest}`;
    const { client, release } = await waitFor(
      async () => {
        restAlive();
        try {
          const client = await SlurmRestClient.connect({ url, userName: RUN_USER, token, timeoutMs: 2_000 });
          return { client, release: (await client.ping()).release };
        } catch {
          return { client: null, release: null };
        }
      },
      (r) => r.client !== null,
      { timeoutMs: 20_000, intervalMs: 100, message: 'slurmrestd to answer a ping' },
    );
    const info: SlurmClusterInfo = {
      url,
      userName: RUN_USER,
      token,
      version: client!.version,
      release: release ?? 'unknown',
      dir,
      jobsDir: path.join(dir, 'jobs'),
      nodeName: NODE,
      slurmdTimeoutS: SLURMD_TIMEOUT_S,
    };
    return { ...info, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** The REST (not database) OpenAPI plugins: the `dbv*` ones need slurmdbd and stop slurmrestd. */
function openapiPlugins(bin: string, dir: string, user: { uid: number; gid: number }): string[] {
  const r = spawnSync(bin, ['-s', 'list'], { encoding: 'utf8', env: slurmEnv(dir), ...user });
  const plugins = `${r.stdout}\n${r.stderr}`.match(/openapi\/v\d+\.\d+\.\d+/g) ?? [];
  if (plugins.length === 0) throw new SlurmSetupError(`slurmrestd lists no openapi/v* plugin: ${r.stderr}`);
  return [...new Set(plugins)];
}

async function distinctPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

/** globalSetup of the `slurm` project: one cluster for the run, handed to the test files. */
export default async function setup(project: TestProject) {
  const { stop, ...info } = await startSlurmCluster();
  project.provide('slurm', info);
  return stop;
}

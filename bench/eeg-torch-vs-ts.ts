// The EEG sequence-classifier trainer (tfjs, pure-JS cpu backend) against the same model and
// training loop in PyTorch on the CPU (bench/eeg_torch.py): time per epoch, validation accuracy
// and peak RSS on identical data, from identical initial weights.
//
// Run: npx tsx bench/eeg-torch-vs-ts.ts [--epochs 3] [--arch original,enhanced_cnn_lstm]
//        [--rows 220000] [--threads 1,2] [--python PATH] [--api on|off]
//
// --api on (the default) also runs the sequence-classifier's torch backend (issue #15) the way a
// user does: the CSV uploaded, a dataset, a job with backend "torch" created over HTTP on a
// PGlite server whose worker runs it; its time per epoch is the gap between the created_at
// stamps of its `metrics` events (GET /v1/jobs/{id}/events, read once the job is over).
// TRAINER_SANDBOX is passed on (off where the trainer venv is not reachable by another uid).
// Python: --python, else $TRAINYARD_PYTHON, else .venv-trainers/bin/python, else
// /tmp/pyprobe/bin/python; it needs torch and numpy.
//
// The TypeScript side runs as bench/trainers.ts runs it (the trainer's own child process); its
// epoch times come from the arrival of its per-epoch `metrics` events. The windows, labels and
// class weights PyTorch trains on are the ones the trainer's prepare() makes from the same CSV
// and hyperparameters, written here as raw little-endian arrays; the initial weights are those
// of the model the trainer builds with the same seed. Before training, eeg_torch.py checks
// that its model reproduces the tfjs model's outputs, penalty, loss and gradients.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { endianness, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { eegCsv } from '../src/samples/eeg.js';
import { Rng } from '../src/trainers/builtin/runtime.js';
import { buildModel } from '../src/trainers/builtin/sequence-classifier/models.js';
import type { ModelType } from '../src/trainers/builtin/sequence-classifier/models.js';
import { prepare, readHyper } from '../src/trainers/builtin/sequence-classifier/prepare.js';
import type { Hyper, Prepared as Prep } from '../src/trainers/builtin/sequence-classifier/prepare.js';
import { splitData } from '../src/trainers/builtin/sequence-classifier/fits.js';
import { initBackend, tf } from '../src/trainers/builtin/sequence-classifier/tf.js';
import { onCleanup } from './lib/cleanup.js';
import { cpuMeter } from './lib/cpu.js';
import { api as benchApi, startBenchApp } from './lib/app.js';
import type { BenchApp } from './lib/app.js';

/** The trainer's prepared data with the single split as tensors (splitData), for one deep architecture. */
type Prepared = Prep & ReturnType<typeof splitData> & { modelType: ModelType };
import { EEG_ROWS, EEG_SEED, eegDataset, jobSpec, runBuiltinTrainer, sequenceHyper, spawnTimed } from './lib/trainer-run.js';

const ARCHS = ['original', 'enhanced_cnn_lstm'] as const; // what eeg_torch.py implements
/** train.ts's shuffle salt (not exported there): only the batch order depends on it, and eeg_torch.py checks that order against the one computed here. */
const SHUFFLE_SALT = 0x5bd1e995;
const EPS = 1e-7;
const CHECK_WINDOWS = 64;

function option(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const arg = argv[i]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[i + 1];
}

const epochs = Number(option('epochs') ?? 3);
const rows = Number(option('rows') ?? EEG_ROWS);
const archs = (option('arch') ?? ARCHS.join(',')).split(',').map((a) => a.trim());
const threads = (option('threads') ?? '1,2').split(',').map(Number);
const viaApi = (option('api') ?? 'on') === 'on';
for (const a of archs) if (!(ARCHS as readonly string[]).includes(a)) throw new Error(`--arch: "${a}" has no PyTorch twin; one of ${ARCHS.join(', ')}`);
if (!Number.isInteger(epochs) || epochs < 1) throw new Error('--epochs: a positive integer');
if (!Number.isInteger(rows) || rows < 1000) throw new Error('--rows: an integer ≥ 1000');
if (threads.some((t) => !Number.isInteger(t) || t < 1)) throw new Error('--threads: comma-separated positive integers');
const hasTorch = (p: string): boolean => existsSync(p) && spawnSync(p, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
const chosen = option('python') ?? process.env.TRAINYARD_PYTHON;
// A default venv may exist half-built (being installed); only an explicit choice is taken as is.
const python = chosen ?? ['.venv-trainers/bin/python', '/tmp/pyprobe/bin/python'].find(hasTorch);
if (!python) throw new Error('no Python with torch and numpy in .venv-trainers or /tmp/pyprobe: pass --python or set TRAINYARD_PYTHON');
if (!hasTorch(python)) throw new Error(`${python} cannot import torch and numpy`);
// The arrays go out as raw bytes in this machine's order and are read as little-endian.
if (endianness() !== 'LE') throw new Error('big-endian machine: the array files would be misread');

const root = await mkdtemp(path.join(tmpdir(), 'trainyard-bench-eeg-torch-'));
const unregister = onCleanup(() => rmSync(root, { recursive: true, force: true }));
const dataDir = path.join(root, 'arrays');

const bytes = (a: Float32Array | Int32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const f32 = (arrays: readonly (Float32Array | Int32Array)[]): Buffer => Buffer.concat(arrays.map(bytes));

/** What the trainer trains on, for eeg_torch.py. Identical for every architecture (the split does not depend on it). */
async function writeData(prep: Prepared, hyper: Hyper): Promise<void> {
  const [L, d] = [prep.sequenceLength, prep.features.length];
  const desc = (file: string, dtype: 'f32' | 'i32', shape: number[]) => ({ file, dtype, shape });
  await writeFile(path.join(dataDir, 'train_x.bin'), bytes(prep.train.x));
  await writeFile(path.join(dataDir, 'train_y.bin'), bytes(prep.train.y));
  await writeFile(path.join(dataDir, 'val_x.bin'), bytes(prep.val.x));
  await writeFile(path.join(dataDir, 'val_y.bin'), bytes(prep.val.y));
  const order = Int32Array.from({ length: prep.train.y.length }, (_, i) => i);
  new Rng(hyper.seed ^ SHUFFLE_SALT).shuffle(order);
  const meta = {
    byte_order: 'little-endian',
    sequence_length: L,
    features: d,
    classes: prep.classes.length,
    class_names: prep.classes,
    class_weights: prep.classWeights,
    train_x: desc('train_x.bin', 'f32', [prep.train.y.length, L, d]),
    train_y: desc('train_y.bin', 'i32', [prep.train.y.length]),
    val_x: desc('val_x.bin', 'f32', [prep.val.y.length, L, d]),
    val_y: desc('val_y.bin', 'i32', [prep.val.y.length]),
    shuffle_seed: (hyper.seed ^ SHUFFLE_SALT) >>> 0,
    first_order: [...order.subarray(0, 256)],
    hyper,
  };
  await writeFile(path.join(dataDir, 'data.json'), JSON.stringify(meta, null, 1));
}

/**
 * The model the trainer builds (same call as main.ts, same seed, so the same initial weights),
 * and its outputs eeg_torch.py must reproduce: probabilities of the first validation windows,
 * the L1/L2 penalty, and the loss of train.ts and its gradients on the first training batch,
 * all in inference mode (no dropout).
 */
async function writeModel(prep: Prepared, hyper: Hyper): Promise<number> {
  const windowShape: [number, number] = [prep.sequenceLength, prep.features.length];
  const per = windowShape[0] * windowShape[1];
  const C = prep.classes.length;
  const model = buildModel({
    modelType: prep.modelType,
    sequenceLength: prep.sequenceLength,
    features: prep.features.length,
    classes: C,
    dropout: hyper.dropout_rate,
    l1: hyper.l1_reg,
    l2: hyper.l2_reg,
    useSeparable: hyper.use_separable,
    useRelativePos: hyper.use_relative_pos,
    seed: hyper.seed,
  });
  const names = model.weights.map((w) => w.name);
  if (model.trainableWeights.map((w) => w.name).join() !== names.join())
    throw new Error(`${prep.modelType}: non-trainable weights; the dump below assumes none`);
  const weights = model.getWeights();
  const k = Math.min(CHECK_WINDOWS, prep.val.y.length);
  const probs = tf.tidy(() => (model.predict(tf.tensor3d(prep.val.x.subarray(0, k * per), [k, ...windowShape])) as tf.Tensor).dataSync() as Float32Array);
  const penalty = tf.tidy(() => tf.addN(model.calculateLosses()).dataSync()[0]!);

  const order = Int32Array.from({ length: prep.train.y.length }, (_, i) => i);
  new Rng(hyper.seed ^ SHUFFLE_SALT).shuffle(order);
  const batch = [...order.subarray(0, Math.min(hyper.batch_size, order.length))];
  const m = batch.length;
  const xb = new Float32Array(m * per);
  const yb = new Float32Array(m * C);
  const wb = new Float32Array(m);
  batch.forEach((row, r) => {
    xb.set(prep.train.x.subarray(row * per, (row + 1) * per), r * per);
    yb[r * C + prep.train.y[row]!] = 1;
    wb[r] = prep.classWeights[prep.train.y[row]!]!;
  });
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  // train.ts's loss, term for term; only `training` differs (dropout off, so tfjs and torch agree exactly).
  const { value, grads } = tf.tidy(() => {
    const [xt, yt, wt] = [tf.tensor3d(xb, [m, ...windowShape]), tf.tensor2d(yb, [m, C]), tf.tensor1d(wb)];
    return tf.variableGrads(() => {
      const p = model.apply(xt, { training: false }) as tf.Tensor;
      const ce = tf.neg(tf.sum(tf.mul(yt, tf.log(tf.clipByValue(p, EPS, 1))), -1));
      return tf.add(tf.div(tf.sum(tf.mul(ce, wt)), m), tf.addN(model.calculateLosses())) as tf.Scalar;
    }, vars);
  });
  const arch = prep.modelType;
  await writeFile(path.join(dataDir, `${arch}.weights.bin`), f32(weights.map((w) => w.dataSync() as Float32Array)));
  await writeFile(path.join(dataDir, `${arch}.grads.bin`), f32(vars.map((v) => grads[v.name]!.dataSync() as Float32Array)));
  await writeFile(path.join(dataDir, `${arch}.probs.bin`), bytes(probs));
  const desc = {
    weights: weights.map((w, i) => ({ name: names[i], shape: w.shape })),
    weights_file: `${arch}.weights.bin`,
    params: model.countParams(),
    check: { windows: k, probs_file: `${arch}.probs.bin`, penalty, batch, loss: value.dataSync()[0], grads_file: `${arch}.grads.bin` },
  };
  await writeFile(path.join(dataDir, `${arch}.json`), JSON.stringify(desc));
  tf.dispose([value, ...Object.values(grads)]);
  const params = model.countParams();
  model.dispose();
  return params;
}

interface Side {
  epochS: number[];
  medianS: number;
  valAccuracy: number;
  valLoss: number;
  peakRssMb: number;
  /** CPU cores other processes used meanwhile: the machine is shared, so say how quiet it was. */
  othersCores: number;
}

interface TorchSide extends Side {
  threads: number;
  params: number;
  torch: string;
  check: { max_abs_dprob: number; penalty_rel: number; loss_abs: number; grad_max_rel: number; shuffle_match: boolean };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
/** Epoch 1 carries the JIT warm-up (V8) and lazy initialisation (torch), so it is left out where there is more than one. */
const steady = (epochS: number[]): number => median(epochS.length > 1 ? epochS.slice(1) : epochS);

async function runTs(csv: string, arch: string): Promise<Side & { windows: number }> {
  const meter = cpuMeter({});
  const r = await runBuiltinTrainer(root, 'sequence-classifier', arch, eegDataset(csv), sequenceHyper(arch, epochs));
  const machine = meter().machine!;
  const metrics = r.events.filter((e) => e.event.type === 'metrics');
  if (metrics.length !== epochs) throw new Error(`${arch}: ${metrics.length} metrics events for ${epochs} epochs`);
  const at = metrics.map((e) => e.atS);
  // Epoch 1's start is not an event; training_time_s ends where the last epoch's event goes out.
  const epochS = [r.result.training_time_s! - (at[at.length - 1]! - at[0]!), ...at.slice(1).map((t, i) => t - at[i]!)];
  const last = metrics[metrics.length - 1]!.event.values as Record<string, number>;
  return {
    epochS,
    medianS: steady(epochS),
    valAccuracy: last.val_accuracy ?? NaN,
    valLoss: last.val_loss ?? NaN,
    peakRssMb: r.peakRssMb,
    othersCores: Math.max(0, machine - r.cpuS / r.wallS),
    windows: r.result.train_windows! + r.result.val_windows!,
  };
}

async function runTorch(arch: string, n: number): Promise<TorchSide> {
  const meter = cpuMeter({});
  const env = { ...process.env, OMP_NUM_THREADS: String(n), MKL_NUM_THREADS: String(n), PYTHONUNBUFFERED: '1' };
  const p = await spawnTimed(
    python!,
    [path.resolve('bench/eeg_torch.py'), '--data', dataDir, '--arch', arch, '--epochs', String(epochs), '--threads', String(n)],
    env,
  );
  const machine = meter().machine!;
  const line = p.stdout
    .map((l) => l.line)
    .reverse()
    .find((l) => l.startsWith('{'));
  if (p.code !== 0 || !line) throw new Error(`eeg_torch.py ${arch} --threads ${n} failed (${p.code}): ${p.stderr.slice(-1500)}`);
  const out = JSON.parse(line) as {
    threads: number;
    params: number;
    torch: string;
    epochs: { seconds: number; val_accuracy: number; val_loss: number }[];
    check: TorchSide['check'];
  };
  const epochS = out.epochs.map((e) => e.seconds);
  const last = out.epochs[out.epochs.length - 1]!;
  return {
    epochS,
    medianS: steady(epochS),
    valAccuracy: last.val_accuracy,
    valLoss: last.val_loss,
    peakRssMb: p.peakRssMb,
    othersCores: Math.max(0, machine - p.cpuS / p.wallS),
    threads: out.threads,
    params: out.params,
    torch: out.torch,
    check: out.check,
  };
}

interface ApiSide {
  epochS: number[];
  medianS: number;
  valAccuracy: number;
  /** From POST /v1/jobs to the job's `succeeded`, seconds. */
  jobS: number;
  backend: string;
  threads: string;
  othersCores: number;
}

/** One job with backend torch through the API; epoch times from its metrics events' arrival. */
async function runApi(app: BenchApp, token: string, datasetId: string, arch: string): Promise<ApiSide> {
  const client = benchApi(app.url);
  const meter = cpuMeter({});
  const t0 = performance.now();
  const job = await client.createJob(token, {
    trainer: 'sequence-classifier',
    dataset_id: datasetId,
    hyperparameters: { ...sequenceHyper(arch, epochs), backend: 'torch' },
    output: { model_name: `eeg-${arch.replaceAll('_', '-')}` },
  });
  // The job's status every 250 ms, and its events once it is over: polling the events fast
  // enough to time an epoch would itself load the 2-core machine the job runs on. An epoch's
  // time is the gap between its metrics event's created_at and the previous one's (the server
  // stamps each event as the worker hands it over).
  let status = 'queued';
  while (!['succeeded', 'failed', 'cancelled'].includes(status)) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await client.call<{ status: string }>('GET', `/v1/jobs/${job.id}`, { token })).body.status;
  }
  const seen: { atS: number; epoch: number; values: Record<string, number> }[] = [];
  let threadsLog = '?';
  for (let after = 0, more = true; more;) {
    const ev = await client.call<{ data: { seq: number; type: string; data: Record<string, unknown>; created_at: string }[] }>(
      'GET',
      `/v1/jobs/${job.id}/events?after=${after}&limit=1000`,
      { token },
    );
    more = ev.body.data.length === 1000;
    for (const e of ev.body.data) {
      after = Math.max(after, e.seq);
      if (e.type === 'metrics')
        seen.push({ atS: Date.parse(e.created_at) / 1000, epoch: e.data.epoch as number, values: e.data.values as Record<string, number> });
      const m = typeof e.data.message === 'string' ? /PyTorch backend: .* (\d+) threads/.exec(e.data.message) : null;
      if (m) threadsLog = m[1]!;
    }
  }
  const jobS = (performance.now() - t0) / 1000;
  const machine = meter().machine!;
  const done = (await client.call<{ status: string; error: unknown; result: { details: { backend: string } } }>('GET', `/v1/jobs/${job.id}`, { token })).body;
  if (done.status !== 'succeeded') throw new Error(`API job ${arch}: ${done.status} ${JSON.stringify(done.error)}`);
  if (seen.length !== epochs) throw new Error(`API job ${arch}: ${seen.length} metrics events for ${epochs} epochs`);
  const epochS = seen.slice(1).map((e, i) => e.atS - seen[i]!.atS);
  return {
    epochS,
    medianS: median(epochS.length > 0 ? epochS : [NaN]),
    valAccuracy: seen[seen.length - 1]!.values.val_accuracy ?? NaN,
    jobS,
    backend: done.result.details.backend,
    threads: threadsLog,
    // The server, worker, trainer and torch all run here: "others" is the machine minus nothing we can attribute, so report the machine's load.
    othersCores: machine,
  };
}

try {
  await mkdir(dataDir, { recursive: true });
  const csv = path.join(root, 'eeg.csv');
  await writeFile(csv, eegCsv(rows, EEG_SEED));
  await initBackend();
  // One prepare() for all: nothing in it depends on the architecture but the label it carries.
  const hp = sequenceHyper(archs[0]!, epochs);
  const hyper = readHyper(hp);
  const prepared = await prepare(jobSpec(path.join(root, 'prep'), 'sequence-classifier', 'prep', eegDataset(csv), hp), hyper, null, (m) =>
    console.warn(`prepare: ${m}`),
  );
  const prep: Prepared = { ...prepared, ...splitData(prepared), modelType: prepared.modelType as ModelType };
  await writeData(prep, hyper);
  const params = new Map<string, number>();
  for (const arch of archs) params.set(arch, await writeModel({ ...prep, modelType: arch as ModelType }, { ...hyper, model_type: arch as ModelType }));

  console.log(`EEG sample: ${rows} rows (seed ${EEG_SEED}), ${epochs} epoch${epochs === 1 ? '' : 's'}, batch 32, Adam 0.001; Python ${python}`);
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  const results: { arch: string; ts: Side & { windows: number }; torch: TorchSide[]; api: ApiSide | null }[] = [];
  let app: BenchApp | null = null;
  let apiUser: { token: string; datasetId: string } | null = null;
  if (viaApi) {
    const sandbox: Record<string, string> = process.env.TRAINER_SANDBOX ? { TRAINER_SANDBOX: process.env.TRAINER_SANDBOX } : {};
    app = await startBenchApp('pglite', { env: { TRAINER_PYTHON: path.resolve(python), WORKER_POLL_MS: '50', ...sandbox } });
    const client = benchApi(app.url);
    const u = await client.user('bench');
    const form = new FormData();
    form.append('file', new Blob([await readFile(csv)]), 'eeg.csv');
    const f = await client.call<{ id: string }>('POST', '/v1/files', { token: u.token, body: form });
    const d = await client.call<{ id: string }>('POST', '/v1/datasets', {
      token: u.token,
      json: { name: 'eeg', kind: 'tabular-csv', file_ids: [f.body.id], options: { label_column: 'state' } },
    });
    for (let st = ''; st !== 'ready'; await new Promise((r) => setTimeout(r, 100))) {
      st = (await client.call<{ status: string }>('GET', `/v1/datasets/${d.body.id}`, { token: u.token })).body.status;
      if (st === 'failed') throw new Error('dataset failed');
    }
    apiUser = { token: u.token, datasetId: d.body.id };
  }
  for (const arch of archs) {
    const ts = await runTs(csv, arch);
    console.log(
      `ts ${arch}: epochs ${ts.epochS.map((s) => s.toFixed(2)).join(', ')} s; val_accuracy ${ts.valAccuracy.toFixed(3)}; peak RSS ${ts.peakRssMb.toFixed(0)} MB; other processes ${ts.othersCores.toFixed(2)} cores`,
    );
    const torch: TorchSide[] = [];
    for (const n of threads) {
      const t = await runTorch(arch, n);
      console.log(
        `torch ${arch} ×${t.threads}: epochs ${t.epochS.map((s) => s.toFixed(2)).join(', ')} s; val_accuracy ${t.valAccuracy.toFixed(3)}; peak RSS ${t.peakRssMb.toFixed(0)} MB; other processes ${t.othersCores.toFixed(2)} cores`,
      );
      torch.push(t);
    }
    let viaHttp: ApiSide | null = null;
    if (app && apiUser) {
      viaHttp = await runApi(app, apiUser.token, apiUser.datasetId, arch);
      console.log(
        `api torch ${arch} (${viaHttp.backend}, ${viaHttp.threads} threads): epochs 2..${epochs} ${viaHttp.epochS.map((s) => s.toFixed(2)).join(', ')} s; val_accuracy ${viaHttp.valAccuracy.toFixed(3)}; job ${viaHttp.jobS.toFixed(1)} s; machine ${viaHttp.othersCores.toFixed(2)} cores busy`,
      );
    }
    results.push({ arch, ts, torch, api: viaHttp });
  }
  await app?.close();

  const fmt = (s: number): string => (s < 1 ? s.toFixed(3) : s.toFixed(2));
  const plural = (n: number): string => `${n} thread${n === 1 ? '' : 's'}`;
  console.log(
    `\nTime per epoch: ${epochs === 1 ? 'the only epoch (includes warm-up)' : epochs === 2 ? 'epoch 2' : `median of epochs 2..${epochs}`}; each epoch includes the shuffle, every batch's read-back and the validation pass.\n`,
  );
  console.log(
    `| arch | windows (train+val) | TS s/epoch | ${threads.map((n) => `PyTorch ${plural(n)} s/epoch`).join(' | ')} | ratio TS/PyTorch (${threads.map(plural).join(' / ')}) | val acc TS | val acc PyTorch (${threads.map(plural).join(' / ')}) |`,
  );
  console.log(`|---|---|---|${threads.map(() => '---|').join('')}---|---|---|`);
  for (const { arch, ts, torch } of results) {
    console.log(
      `| ${arch} | ${ts.windows} | ${fmt(ts.medianS)} | ${torch.map((t) => fmt(t.medianS)).join(' | ')} | ${torch.map((t) => `${(ts.medianS / t.medianS).toFixed(1)}×`).join(' / ')} | ${ts.valAccuracy.toFixed(3)} | ${torch.map((t) => t.valAccuracy.toFixed(3)).join(' / ')} |`,
    );
  }
  console.log('\n| arch | side | epoch times (s) | peak RSS | final val_loss | trainable params | other processes (cores) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const { arch, ts, torch } of results) {
    console.log(
      `| ${arch} | TS (tfjs cpu, 1 thread) | ${ts.epochS.map(fmt).join(', ')} | ${ts.peakRssMb.toFixed(0)} MB | ${ts.valLoss.toFixed(4)} | ${params.get(arch)} | ${ts.othersCores.toFixed(2)} |`,
    );
    for (const t of torch)
      console.log(
        `| ${arch} | PyTorch ${t.torch}, ${plural(t.threads)} | ${t.epochS.map(fmt).join(', ')} | ${t.peakRssMb.toFixed(0)} MB | ${t.valLoss.toFixed(4)} | ${t.params} | ${t.othersCores.toFixed(2)} |`,
      );
  }
  if (viaApi) {
    console.log(
      `\nThe torch backend through the API (job over HTTP, worker, trainer, PyTorch child) against the bare PyTorch loop at ${plural(threads[threads.length - 1]!)}:\n`,
    );
    console.log(
      '| arch | API torch s/epoch | bare PyTorch s/epoch | ratio API/bare | TS (tfjs) s/epoch | ratio TS/API | val acc API / bare / TS | job wall (s) | machine busy (cores) |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const { arch, ts, torch, api: a } of results) {
      const bare = torch[torch.length - 1]!;
      if (!a) continue;
      console.log(
        `| ${arch} | ${fmt(a.medianS)} | ${fmt(bare.medianS)} | ${(a.medianS / bare.medianS).toFixed(2)}× | ${fmt(ts.medianS)} | ${(ts.medianS / a.medianS).toFixed(1)}× | ${a.valAccuracy.toFixed(3)} / ${bare.valAccuracy.toFixed(3)} / ${ts.valAccuracy.toFixed(3)} | ${a.jobS.toFixed(1)} | ${a.othersCores.toFixed(2)} |`,
      );
    }
  }
  console.log('\nEquivalence before training, tfjs vs PyTorch on identical weights, dropout off:');
  for (const { arch, torch } of results) {
    const c = torch[0]!.check;
    console.log(
      `- ${arch}: max |Δ probability| over ${CHECK_WINDOWS} validation windows ${c.max_abs_dprob.toExponential(1)}; penalty rel. Δ ${c.penalty_rel.toExponential(1)}; first-batch loss |Δ| ${c.loss_abs.toExponential(1)}; gradients max rel. Δ ${c.grad_max_rel.toExponential(1)}; batch order ${c.shuffle_match ? 'identical' : 'DIFFERENT'}`,
    );
  }
  console.log(
    '\nPeak RSS: the TS trainer also parses the CSV and builds the windows itself; the Python process reads the prepared arrays (a few MB) but loads the torch library.',
  );
} finally {
  unregister();
  await rm(root, { recursive: true, force: true });
}

// `models list|versions|download|predict`, `generate` and `credits`.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { Api, ClientError, errorFrom, moreNote, seg, usage, type Obj } from './http.js';
import { emit, formatBytes, printFields, printTable, type GlobalOpts } from './output.js';

/** Instances from --input (JSON: one instance or a list) or --file (a JSON list, or JSON Lines). */
export async function readInstances(o: { input?: string; file?: string }): Promise<unknown[]> {
  if (!o.input === !o.file) throw usage('give exactly one of --input JSON or --file FILE');
  const text = o.input ?? (await readFile(o.file!, 'utf8'));
  const trimmed = text.trim();
  try {
    if (o.file && !trimmed.startsWith('['))
      return trimmed
        .split(/\r?\n/)
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as unknown);
    const v = JSON.parse(trimmed) as unknown;
    return Array.isArray(v) ? v : [v];
  } catch (err) {
    throw usage(`the instances are not valid JSON: ${(err as Error).message}`);
  }
}

/** Downloads a signed URL to `dest`, checking size and sha256; a partial file never takes the name. */
export async function download(url: string, dest: string, expect: { bytes: number; sha256: string }): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw await errorFrom(res);
  const h = createHash('sha256');
  let n = 0;
  const tmp = `${dest}.part`;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as never), tap, createWriteStream(tmp));
  } catch (err) {
    // A cut transfer leaves nothing behind, and says what happened.
    await rm(tmp, { force: true });
    throw new ClientError(
      'DOWNLOAD_INTERRUPTED',
      `${path.basename(dest)}: the download stopped after ${n} of ${expect.bytes} bytes (${(err as Error).message})`,
    );
  }
  const sha = h.digest('hex');
  if (n !== expect.bytes || sha !== expect.sha256) {
    await rm(tmp, { force: true });
    throw new ClientError(
      'DOWNLOAD_CORRUPT',
      `${path.basename(dest)}: got ${n} bytes with sha256 ${sha}, expected ${expect.bytes} bytes with ${expect.sha256}`,
    );
  }
  await rename(tmp, dest);
}

async function downloadModel(name: string, o: { version?: string; artifact?: string; out: string }, g: GlobalOpts) {
  const api = await Api.fromEnv();
  const { data } = await api.get<{ data: Obj[] }>(`/v1/models/${seg(name)}/versions`);
  const v = o.version
    ? data.find((x) => String(x.version) === o.version)
    : data.reduce<Obj | undefined>((a, b) => (!a || b.version > a.version ? b : a), undefined);
  if (!v) throw new ClientError('NOT_FOUND', `model ${name} has no version ${o.version ?? '(none yet)'}`);
  const names = o.artifact ? [o.artifact] : (v.artifacts as Obj[]).map((a) => String(a.name));
  await mkdir(o.out, { recursive: true });
  const saved: Obj[] = [];
  for (const a of names) {
    const info = await api.get<Obj>(`/v1/models/${seg(name)}/versions/${seg(v.version)}/artifacts/${seg(a)}`);
    const dest = path.join(o.out, path.basename(String(info.name)));
    await download(String(info.url), dest, { bytes: Number(info.bytes), sha256: String(info.sha256) });
    saved.push({ artifact: info.name, format: info.format, path: dest, bytes: info.bytes, sha256: info.sha256 });
  }
  emit(g, { model: name, version: v.version, files: saved }, () => {
    for (const s of saved) console.log(`${s.path}  ${formatBytes(s.bytes)}  sha256 ${s.sha256}`);
  });
}

export function register(program: Command, g: () => GlobalOpts): void {
  const models = program.command('models').description('your trained models');
  models
    .command('list')
    .description('your models')
    .action(async () => {
      const r = await (await Api.fromEnv()).get<{ data: Obj[]; has_more?: boolean }>('/v1/models?limit=100');
      emit(g(), r, () => printTable(r.data, ['name', 'trainer', 'version_count', 'visibility', 'updated_at']));
      moreNote(r, 'models');
    });
  models
    .command('versions')
    .argument('<name>')
    .description("a model's versions with their metrics and artifacts")
    .action(async (name: string) => {
      const r = await (await Api.fromEnv()).get<{ data: Obj[] }>(`/v1/models/${seg(name)}/versions`);
      const rows = r.data.map((v) => ({ ...v, artifacts: (v.artifacts as Obj[]).map((a) => a.name).join(',') }));
      emit(g(), r, () => printTable(rows, ['version', 'metrics', 'artifacts', 'created_at']));
    });
  models
    .command('download')
    .argument('<name>')
    .option('--version <n>', 'version number (default: the latest)')
    .option('--artifact <name>', 'one artifact (default: all)')
    .option('-o, --out <dir>', 'folder to write to', '.')
    .description("download a version's artifacts, checking each file's size and sha256")
    .action((name: string, o: { version?: string; artifact?: string; out: string }) => downloadModel(name, o, g()));
  models
    .command('predict')
    .argument('<name>')
    .option('--input <json>', 'one instance, or a JSON list of them')
    .option('--file <file>', 'a JSON list of instances, or JSON Lines')
    .option('--version <n>', 'version number (default: the latest)')
    .option('--alias <alias>', 'a version alias (e.g. best)')
    .description('predict with a model: a label and probabilities per instance')
    .action(async (name: string, o: { input?: string; file?: string; version?: string; alias?: string }) => {
      const instances = await readInstances(o);
      const body = { instances, ...(o.version ? { version: Number(o.version) } : {}), ...(o.alias ? { alias: o.alias } : {}) };
      const r = await (await Api.fromEnv()).post<Obj>(`/v1/models/${seg(name)}/predict`, body);
      emit(g(), r, () => {
        console.log(`${r.model} v${r.version}`);
        printTable(
          (r.predictions as Obj[]).map((p, i) => ({
            '#': i + 1,
            label: p.label,
            confidence: Math.max(...Object.values(p.probabilities as Record<string, number>)).toFixed(3),
          })),
          ['#', 'label', 'confidence'],
        );
      });
    });

  program
    .command('generate')
    .description('generate an image with a LoRA model (POST /v1/generations) and wait for it')
    .requiredOption('-p, --prompt <text>', 'the prompt')
    .option('--model <name>', 'a lora-diffusion model: yours, or owner/name')
    .option('--seed <n>', 'seed')
    .option('--steps <n>', 'sampling steps')
    .option('--no-wait', 'return at once')
    .action(async (o: { prompt: string; model?: string; seed?: string; steps?: string; wait?: boolean }) => {
      const api = await Api.fromEnv();
      const body = {
        prompt: o.prompt,
        ...(o.model ? { model: o.model } : {}),
        ...(o.seed ? { seed: Number(o.seed) } : {}),
        ...(o.steps ? { steps: Number(o.steps) } : {}),
      };
      let r = await api.post<Obj>('/v1/generations', body);
      for (let delay = 500; o.wait !== false && !['succeeded', 'failed', 'cancelled'].includes(r.status); delay = Math.min(delay * 1.5, 3000)) {
        await new Promise((res) => setTimeout(res, delay));
        r = await api.get<Obj>(`/v1/generations/${seg(r.id)}`);
      }
      emit(g(), r, () => printFields(r));
      if (r.status === 'failed') process.exitCode = 1;
    });

  program
    .command('credits')
    .description('your credit balance')
    .action(async () => {
      const r = await (await Api.fromEnv()).get<Obj>('/v1/credits/balance');
      emit(g(), r, () => printFields(r));
    });
}

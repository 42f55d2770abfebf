// `train` (flags or a YAML/JSON job file; shows the price and asks) and `jobs list|show|logs|cancel`.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { datasetIdFor, parseKeyValues } from './catalog.js';
import { followJob } from './events.js';
import { Api, ClientError, EXIT, moreNote, outcomeCode, seg, usage, type Obj } from './http.js';
import { emit, printFields, printTable, type GlobalOpts } from './output.js';
import { confirm, isInteractive } from './prompt.js';
import { watchJob } from './watch.js';

interface TrainOpts {
  file?: string;
  trainer?: string;
  dataset?: string;
  model?: string;
  hp?: string[];
  yes?: boolean;
  watch?: boolean;
}

/**
 * The job body: the file (YAML or JSON, the POST /v1/jobs body; `model: NAME` and
 * `dataset: ID or NAME` are accepted as the short forms people write in Axolotl-style files),
 * then flags on top.
 */
export async function jobBody(o: TrainOpts): Promise<Obj> {
  let body: Obj = {};
  if (o.file) {
    const text = await readFile(o.file, 'utf8').catch((err: Error) => {
      throw new ClientError('FILE_NOT_FOUND', `cannot read ${o.file}: ${err.message}`);
    });
    const { parse } = await import('yaml'); // YAML is a superset of JSON: one parser reads both
    const doc: unknown = parse(text);
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw usage(`${o.file} must hold one mapping (the job), not ${Array.isArray(doc) ? 'a list' : typeof doc}`);
    body = { ...(doc as Obj) };
    if (typeof body.dataset === 'string' && !body.dataset_id) body.dataset_id = body.dataset;
    if (typeof body.model === 'string' && !body.output) body.output = { model_name: body.model };
    delete body.dataset;
    delete body.model;
  }
  if (o.trainer) body.trainer = o.trainer;
  if (o.dataset) body.dataset_id = o.dataset;
  if (o.model) body.output = { ...(body.output ?? {}), model_name: o.model };
  if (o.hp?.length) body.hyperparameters = { ...(body.hyperparameters ?? {}), ...parseKeyValues(o.hp) };
  for (const k of ['trainer', 'dataset_id'] as const)
    if (!body[k]) throw usage(`the job needs ${k === 'trainer' ? '--trainer' : '--dataset'} (or ${k} in the job file)`);
  if (!body.output?.model_name) throw usage('the job needs --model NAME (or output.model_name in the job file)');
  return body;
}

async function train(o: TrainOpts, g: GlobalOpts): Promise<void> {
  const api = await Api.fromEnv();
  const body = await jobBody(o);
  body.dataset_id = await datasetIdFor(api, String(body.dataset_id));
  const quote = await api.post<{ cost: number; hyperparameters: Obj }>('/v1/jobs/quote', body);
  const balance = await api.get<{ balance: number }>('/v1/credits/balance').catch(() => null);
  const priceLine = `${body.trainer} on ${body.dataset_id} → model "${body.output.model_name}": ${quote.cost} credits${balance ? ` (balance ${balance.balance})` : ''}`;
  if (!o.yes) {
    if (!isInteractive()) throw usage(`${priceLine}\nnot a terminal: pass --yes to accept the price`);
    console.error(priceLine);
    if (!(await confirm('Start the job?'))) throw new ClientError('DECLINED', 'not started', EXIT.error);
  } else if (!g.json) console.error(priceLine);
  const job = await api.post<Obj>('/v1/jobs', body);
  if (o.watch) {
    if (!g.json) console.error(`started ${job.id}`);
    process.exitCode = await watchJob(api, job.id, g);
    return;
  }
  emit(g, job, () => {
    console.log(`started ${job.id} (${job.status}); follow it with: trainyard watch ${job.id}`);
  });
}

async function logs(id: string, o: { follow?: boolean; tail: string }, g: GlobalOpts): Promise<void> {
  const api = await Api.fromEnv();
  const show = (l: Obj) =>
    g.json ? console.log(JSON.stringify(l)) : console.log(`${l.at ?? l.created_at ?? ''} ${l.level ?? 'info'} ${l.message ?? ''}`.trim());
  if (!o.follow) {
    const r = await api.get<{ data: Obj[] }>(`/v1/jobs/${seg(id)}/logs?tail=${Number(o.tail) || 200}`);
    if (g.json) console.log(JSON.stringify(r, null, 2));
    else for (const l of r.data) show(l);
    return;
  }
  // -f: every log event from the start, then live until the job ends; exits with its outcome.
  const status = await followJob(api, id, (e) => {
    if (e.type === 'log') show({ created_at: e.created_at, ...e.data });
  });
  process.exitCode = outcomeCode(status);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command, g: () => GlobalOpts): void {
  program
    .command('train')
    .description('start a training job from flags or a YAML/JSON job file; shows the price and asks (--yes to skip)')
    .argument('[file]', 'a job file: the POST /v1/jobs body in YAML or JSON')
    .option('-t, --trainer <id>', 'trainer id (trainyard trainers list)')
    .option('-d, --dataset <dataset>', 'dataset id or name')
    .option('-m, --model <name>', 'the model the job produces (output.model_name)')
    .option('--hp <key=value>', 'a hyperparameter (repeatable)', collect)
    .option('-y, --yes', 'accept the price without asking (needed without a terminal)')
    .option('-w, --watch', 'watch the job after starting it; exits with its outcome')
    .action((file: string | undefined, o: TrainOpts) => train({ ...o, ...(file ? { file } : {}) }, g()));

  const jobs = program.command('jobs').description('your training jobs');
  jobs
    .command('list')
    .option('--status <status>', 'queued, running, succeeded, failed, cancelled')
    .description('your jobs, newest first')
    .action(async (o: { status?: string }) => {
      const r = await (
        await Api.fromEnv()
      ).get<{ data: Obj[]; next_cursor?: string | null }>(`/v1/jobs?limit=100${o.status ? `&status=${seg(o.status)}` : ''}`);
      const rows = r.data.map((j) => ({ ...j, model: j.output?.model_name, progress: `${Math.round((j.progress?.fraction ?? 0) * 100)}%` }));
      emit(g(), r, () => printTable(rows, ['id', 'trainer', 'status', 'progress', 'model', 'cost', 'created_at']));
      moreNote(r, 'jobs');
    });
  jobs
    .command('show')
    .argument('<id>')
    .description('one job: status, progress, result or error')
    .action(async (id: string) => {
      const j = await (await Api.fromEnv()).get<Obj>(`/v1/jobs/${seg(id)}`);
      emit(g(), j, () =>
        printFields(j, [
          'id',
          'trainer',
          'status',
          'queue_position',
          'dataset_id',
          'hyperparameters',
          'output',
          'cost',
          'progress',
          'result',
          'error',
          'model_version_id',
          'created_at',
          'finished_at',
        ]),
      );
    });
  jobs
    .command('logs')
    .argument('<id>')
    .option('-f, --follow', 'follow the log live until the job ends (exit status: its outcome)')
    .option('--tail <n>', 'how many of the newest lines', '200')
    .description("a job's log lines")
    .action((id: string, o: { follow?: boolean; tail: string }) => logs(id, o, g()));
  jobs
    .command('cancel')
    .argument('<id>')
    .description('cancel a queued or running job (its held credits are released)')
    .action(async (id: string) => {
      const j = await (await Api.fromEnv()).post<Obj>(`/v1/jobs/${seg(id)}/cancel`, {});
      emit(g(), j, () => console.log(`${j.id}: ${j.status}`));
    });
}

// `datasets create|list|show|samples` and `trainers list|show`.
import type { Command } from 'commander';
import { Api, ClientError, findPaged, moreNote, seg, usage, type Obj } from './http.js';
import { emit, printFields, printTable, type GlobalOpts } from './output.js';
import { fileIdFor } from './upload.js';

async function waitReady(api: Api, id: string): Promise<Obj> {
  // Validation runs on the worker; poll the dataset until it is decided (at most ~10 minutes).
  for (let delay = 200, t0 = Date.now(); ; delay = Math.min(delay * 1.5, 2000)) {
    const d = await api.get<Obj>(`/v1/datasets/${seg(id)}`);
    if (d.status !== 'processing') return d;
    if (Date.now() - t0 > 600_000) return d;
    await new Promise((r) => setTimeout(r, delay));
  }
}

interface CreateOpts {
  name: string;
  kind: string;
  file: string[];
  label?: string;
  option?: string[];
  description?: string;
  wait?: boolean;
}

/** `--option key=value`: numbers and booleans as JSON, anything else as a string. */
export function parseKeyValues(pairs: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i < 1) throw usage(`expected key=value, got "${p}"`);
    const raw = p.slice(i + 1);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[p.slice(0, i)] = v;
  }
  return out;
}

async function createDataset(o: CreateOpts, g: GlobalOpts) {
  const api = await Api.fromEnv();
  const options = { ...parseKeyValues(o.option), ...(o.label ? { label_column: o.label } : {}) };
  const fileIds: string[] = [];
  for (const f of o.file) fileIds.push(await fileIdFor(api, f, Boolean(g.json)));
  const body = {
    name: o.name,
    kind: o.kind,
    file_ids: fileIds,
    ...(o.description ? { description: o.description } : {}),
    ...(Object.keys(options).length ? { options } : {}),
  };
  let d = await api.post<Obj>('/v1/datasets', body);
  if (o.wait !== false) d = await waitReady(api, d.id);
  emit(g, d, () => printFields(d, ['id', 'name', 'kind', 'status', 'stats', 'error']));
  if (d.status === 'error') process.exitCode = 1;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** A dataset id for `ref`: an id (ds_…) as it is, else the newest of the caller's datasets with that name. */
export async function datasetIdFor(api: Api, ref: string): Promise<string> {
  if (ref.startsWith('ds_')) return ref;
  const d = await findPaged(api, '/v1/datasets', (x) => x.name === ref);
  if (!d) throw new ClientError('DATASET_NOT_FOUND', `no dataset named "${ref}" (trainyard datasets list)`);
  return String(d.id);
}

export function register(program: Command, g: () => GlobalOpts): void {
  const ds = program.command('datasets').description('create and inspect datasets');
  ds.command('create')
    .description('create a dataset from uploaded files and wait until it is validated')
    .requiredOption('--name <name>', 'dataset name')
    .requiredOption('--kind <kind>', 'tabular-csv, image-folder, text-jsonl, … (GET /v1/datasets/samples shows examples)')
    .requiredOption('--file <file>', 'an uploaded file id, or a local file (uploaded unless it already is); repeat for more', collect)
    .option('--label <column>', 'the label column (options.label_column)')
    .option('--option <key=value>', 'another dataset option (repeatable)', collect)
    .option('--description <text>', 'a description')
    .option('--no-wait', 'return at once, without waiting for validation')
    .action((o: CreateOpts) => createDataset(o, g()));
  ds.command('list')
    .description('your datasets, newest first')
    .action(async () => {
      const r = await (await Api.fromEnv()).get<{ data: Obj[]; next_cursor?: string | null }>('/v1/datasets?limit=100');
      emit(g(), r, () => printTable(r.data, ['id', 'name', 'kind', 'status', 'created_at']));
      moreNote(r, 'datasets');
    });
  ds.command('show')
    .argument('<id>')
    .description('one dataset with its statistics')
    .action(async (id: string) => {
      const d = await (await Api.fromEnv()).get<Obj>(`/v1/datasets/${seg(id)}`);
      emit(g(), d, () => printFields(d));
    });
  ds.command('samples')
    .argument('<kind>', 'eeg, security-prompts, images or videos')
    .option('--name <name>', 'dataset name')
    .option('--size <n>', 'how big (rows, examples per class, images or clips; see the API docs)')
    .option('--seed <n>', 'random seed')
    .description('create a realistic synthetic dataset on the server to try a trainer, and wait until it is ready')
    .action(async (kind: string, o: { name?: string; size?: string; seed?: string }) => {
      const api = await Api.fromEnv();
      const body = { kind, ...(o.name ? { name: o.name } : {}), ...(o.size ? { size: Number(o.size) } : {}), ...(o.seed ? { seed: Number(o.seed) } : {}) };
      const d = await waitReady(api, (await api.post<Obj>('/v1/datasets/samples', body)).id);
      emit(g(), d, () => printFields(d, ['id', 'name', 'kind', 'status', 'stats', 'error']));
      if (d.status === 'error') process.exitCode = 1;
    });

  const tr = program.command('trainers').description('what can be trained');
  tr.command('list')
    .description('the trainers this server offers')
    .action(async () => {
      const r = await (await Api.fromEnv()).get<{ data: Obj[] }>('/v1/trainers');
      emit(g(), r, () => printTable(r.data, ['id', 'task', 'available', 'title']));
    });
  tr.command('show')
    .argument('<id>')
    .description('one trainer: datasets it takes, pricing, and its hyperparameters as a table')
    .action(async (id: string) => {
      const t = await (await Api.fromEnv()).get<Obj>(`/v1/trainers/${seg(id)}`);
      emit(g(), t, () => {
        printFields(t, ['id', 'title', 'task', 'description', 'available', 'dataset', 'pricing', 'primary_metric']);
        const props = (t.hyperparameters?.properties ?? {}) as Record<string, Obj>;
        const rows = Object.entries(props).map(([name, p]) => ({
          name,
          type: p.type ?? (p.enum ? 'enum' : ''),
          default: p.default,
          range: p.enum ? p.enum.join('|') : p.minimum !== undefined || p.maximum !== undefined ? `${p.minimum ?? ''}..${p.maximum ?? ''}` : '',
          description: p.description ?? '',
        }));
        console.log('\nhyperparameters:');
        printTable(rows, ['name', 'type', 'default', 'range', 'description']);
      });
    });
}

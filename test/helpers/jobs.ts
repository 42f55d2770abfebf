import path from 'node:path';
import type { client } from './app.js';
import { waitForReadyDataset } from './wait.js';

type Api = ReturnType<typeof client>;

/** A CSV with a learnable signal: class = argmax of three noisy linear scores. */
export function signalCsv(rows = 600, seed = 7, shuffleLabels = false): string {
  let s = seed >>> 0;
  const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const lines = ['f1,f2,f3,label'];
  const labels: string[] = [];
  const feats: string[] = [];
  for (let i = 0; i < rows; i++) {
    const x = [rnd() * 2 - 1, rnd() * 2 - 1, rnd() * 2 - 1];
    const scores = [x[0]! * 3, x[1]! * 3, x[2]! * 3];
    labels.push(['red', 'green', 'blue'][scores.indexOf(Math.max(...scores))]!);
    feats.push(x.map((v) => v.toFixed(4)).join(','));
  }
  if (shuffleLabels) labels.sort(() => rnd() - 0.5);
  for (let i = 0; i < rows; i++) lines.push(`${feats[i]},${labels[i]}`);
  return lines.join('\n') + '\n';
}

export async function csvDataset(api: Api, token: string, name: string, csv = signalCsv()): Promise<string> {
  const f = await api.upload(token, `${name}.csv`, csv);
  const d = await api.post('/v1/datasets', { name, kind: 'tabular-csv', file_ids: [f.body.id], options: { label_column: 'label' } }, token);
  return (await waitForReadyDataset(api, token, d.body.id)).id;
}

const FIXTURES = path.resolve('test/fixtures/trainers');

/** catalog.json entries for the misbehaving test trainers (runtime "command"). */
export function testTrainers(extra: Record<string, unknown> = {}) {
  const base = (id: string, o: Record<string, unknown> = {}) => ({
    id,
    title: `test ${id}`,
    task: 'test',
    description: 'test trainer',
    dataset: { kinds: ['tabular-csv'] },
    hyperparameters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        steps: { type: 'integer', minimum: 1, maximum: 100000, default: 5 },
        sleep_ms: { type: 'integer', minimum: 0, maximum: 60000, default: 10 },
      },
    },
    primary_metric: { name: 'score', goal: 'maximize' },
    resources: { gpus: 0, memory_mb: 64 },
    pricing: { type: 'fixed', credits: 5 },
    base_models: 'none',
    runtime: { type: 'command', entry: id, command: [process.execPath, path.join(FIXTURES, `${id}.mjs`)] },
    ...o,
  });
  return {
    trainers: [
      base('echo'),
      base('crash'),
      base('hang'),
      base('flood'),
      base('ignore-sigterm'),
      base('huge-artifact'),
      base('warm', { supports_warm_start: true, primary_metric: { name: 'generation', goal: 'maximize' } }),
      base('gpu-echo', {
        resources: { gpus: 1, memory_mb: 64 },
        runtime: { type: 'command', entry: 'echo', command: [process.execPath, path.join(FIXTURES, 'echo.mjs')] },
      }),
      ...Object.values(extra),
    ],
  };
}

export interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Reads a whole SSE response (the server closes it after the job's final status). */
export async function readSse(res: Response): Promise<SseEvent[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('id:'))
    .map((block) => {
      const f = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      return { id: Number(f.id), event: f.event!, data: JSON.parse(f.data!) };
    });
}

import type { Body, Dataset } from '../../api/types';

/** What POST /v1/datasets accepts, from the generated types: the kinds and their options. */
export type DatasetCreate = Body<'/v1/datasets', 'post'>;
export type DatasetKind = DatasetCreate['kind'];
export type DatasetOptions = NonNullable<DatasetCreate['options']>;
export type SampleKind = Body<'/v1/datasets/samples', 'post'>['kind'];

export const DATASET_KINDS: readonly { kind: DatasetKind; label: string; help: string }[] = [
  { kind: 'tabular-csv', label: 'Table (CSV)', help: 'CSV files with a header row; all files share the same columns.' },
  { kind: 'text-classification-jsonl', label: 'Labelled texts (JSON Lines)', help: 'One JSON object a line with a text and a label.' },
  { kind: 'chat-jsonl', label: 'Conversations (JSON Lines)', help: 'One conversation a line: {"messages": [{"role", "content"}, …]}.' },
  { kind: 'image-set', label: 'Images', help: 'JPEG, PNG or WebP images of one subject or style.' },
  { kind: 'video-set', label: 'Videos', help: 'One zip, or video files plus a manifest (CSV or JSON Lines) that labels them.' },
  { kind: 'archive', label: 'Archive (zip)', help: 'A zip file, kept as it is.' },
];

/** Which options each kind takes (the server refuses the others with INVALID_OPTION). */
export const KIND_OPTIONS: Record<DatasetKind, readonly (keyof DatasetOptions)[]> = {
  'tabular-csv': ['label_column', 'instance_column', 'order_column'],
  'text-classification-jsonl': ['text_field', 'label_field'],
  'chat-jsonl': [],
  'image-set': [],
  'video-set': [],
  archive: [],
};

export const SAMPLES: readonly { kind: SampleKind; label: string; help: string }[] = [
  {
    kind: 'eeg',
    label: 'EEG sample',
    help: 'A table of synthetic EEG band powers (alpha, beta, theta, …) four times a second, labelled relaxed, focused or drowsy: for the sequence and linear classifiers.',
  },
  {
    kind: 'security-prompts',
    label: 'Security prompts sample',
    help: 'Synthetic prompts labelled benign, prompt injection, jailbreak, system extraction or code injection (JSON Lines): for the text classifiers.',
  },
  { kind: 'images', label: 'Images sample', help: 'A dozen generated pictures of one subject: for trying an image LoRA.' },
  {
    kind: 'videos',
    label: 'Videos sample',
    help: 'Synthetic one-second clips (a red square moving right, a blue one moving down, a green one still) with labels and captions: for the video trainers.',
  },
];

/** A guess of the kind from the file names, for the form's first choice. */
export function guessKind(names: readonly string[]): DatasetKind | undefined {
  const ext = (n: string) => n.toLowerCase().split('.').pop() ?? '';
  const exts = new Set(names.map(ext));
  if (exts.size === 0) return undefined;
  const only = (...e: string[]) => [...exts].every((x) => e.includes(x));
  if (only('csv', 'tsv')) return 'tabular-csv';
  if (only('jsonl', 'ndjson')) return 'text-classification-jsonl';
  if (only('png', 'jpg', 'jpeg', 'webp')) return 'image-set';
  if (only('mp4', 'webm', 'mov', 'mkv', 'avi', 'csv', 'jsonl', 'zip') && [...exts].some((x) => ['mp4', 'webm', 'mov', 'mkv', 'avi'].includes(x)))
    return 'video-set';
  if (only('zip')) return 'archive';
  return undefined;
}

/** A dataset name the server accepts (letters, digits, space, _ . -; starting with a letter or digit) from a file name. */
export function nameFromFile(filename: string): string {
  const base = filename.replace(/\.[^.]*$/, '');
  const clean = base
    .replace(/[^A-Za-z0-9 _.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  return clean || 'dataset';
}

export const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$/;

/** processing / error as a person reads them: validating / invalid. */
export function statusLabel(status: Dataset['status'] | undefined): string {
  return status === 'processing' ? 'validating' : status === 'error' ? 'invalid' : (status ?? 'unknown');
}

export const isFinalDataset = (d: Pick<Dataset, 'status'> | undefined) => d?.status === 'ready' || d?.status === 'error';

// ---- stats: the API types them as free objects; these read them safely ----

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const rec = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

export function counts(v: unknown): { label: string; value: number }[] {
  const r = rec(v);
  if (!r) return [];
  return Object.entries(r)
    .map(([label, n]) => ({ label, value: num(n) ?? 0 }))
    .sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
}

export interface ColumnStat {
  name: string;
  type: string;
  missing: number | undefined;
}

export interface Instances {
  count: number | undefined;
  min_length: number | undefined;
  median_length: number | undefined;
  max_length: number | undefined;
  per_class: { label: string; value: number }[];
  unlabelled: number | undefined;
}

export interface ReadStats {
  /** The dataset's size in its own unit: rows, examples, images, entries. */
  size: { value: number; unit: string } | undefined;
  columns: ColumnStat[];
  classes: { label: string; value: number }[];
  labelColumn: string | undefined;
  instances: Instances | undefined;
  /** Other plain figures (avg_text_length, image sizes, …), for a facts list. */
  facts: { key: string; value: string }[];
  /** Other count maps (formats, role_counts, extensions). */
  maps: { key: string; bars: { label: string; value: number }[] }[];
}

const SIZE_KEYS: readonly [string, string][] = [
  ['row_count', 'rows'],
  ['example_count', 'examples'],
  ['image_count', 'images'],
  ['video_count', 'videos'],
  ['entry_count', 'entries'],
];
const HANDLED = new Set([
  'row_count',
  'example_count',
  'image_count',
  'video_count',
  'entry_count',
  'columns',
  'class_counts',
  'label_column',
  'instances',
  'videos',
  'entries',
]);

export function readStats(stats: Dataset['stats'] | undefined): ReadStats {
  const s = rec(stats) ?? {};
  let size: ReadStats['size'];
  for (const [k, unit] of SIZE_KEYS) {
    const v = num(s[k]);
    if (v !== undefined) {
      size = { value: v, unit };
      break;
    }
  }
  const columns: ColumnStat[] = Array.isArray(s.columns)
    ? s.columns.flatMap((c) => {
        const r = rec(c);
        const name = str(r?.name);
        return r && name !== undefined ? [{ name, type: str(r.type) ?? '—', missing: num(r.missing) }] : [];
      })
    : [];
  const inst = rec(s.instances);
  const instances: Instances | undefined = inst
    ? {
        count: num(inst.count),
        min_length: num(inst.min_length),
        median_length: num(inst.median_length),
        max_length: num(inst.max_length),
        per_class: counts(inst.per_class),
        unlabelled: num(inst.unlabelled),
      }
    : undefined;
  const facts: ReadStats['facts'] = [];
  const maps: ReadStats['maps'] = [];
  for (const [key, v] of Object.entries(s)) {
    if (HANDLED.has(key)) continue;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') facts.push({ key, value: String(v) });
    else if (v === null) facts.push({ key, value: '—' });
    else if (rec(v) && Object.values(rec(v)!).every((x) => typeof x === 'number')) maps.push({ key, bars: counts(v) });
  }
  return { size, columns, classes: counts(s.class_counts), labelColumn: str(s.label_column), instances, facts, maps };
}

/** One validation issue as the API reports it (file_id always; line or archive entry when known). */
export interface Issue {
  file_id: string;
  line: number | undefined;
  entry: string | undefined;
  code: string | undefined;
  message: string;
}

export function readIssues(errors: Dataset['errors'] | undefined): Issue[] {
  return (errors ?? []).map((e) => {
    const line = num(e.line);
    let message = str(e.message) ?? JSON.stringify(e);
    // The server prefixes "line N: " so the text reads alone; the table has a column for it.
    if (line !== undefined) message = message.replace(new RegExp(`^line ${line}: `), '');
    return { file_id: str(e.file_id) ?? '', line, entry: str(e.entry), code: str(e.code), message };
  });
}

export const humanKey = (k: string) => k.replace(/_/g, ' ');

import { api, must } from '../../api/client';
import type { Dataset, Trainer } from '../../api/types';

export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export interface DatasetRule {
  kinds: string[];
  min_rows?: number;
  min_images?: number;
  max_images?: number;
  label_column_required?: boolean;
}

export function datasetRule(t: Trainer | undefined): DatasetRule {
  const d = (t?.dataset ?? {}) as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return {
    kinds: Array.isArray(d.kinds) ? d.kinds.filter((k): k is string => typeof k === 'string') : [],
    min_rows: n(d.min_rows),
    min_images: n(d.min_images),
    max_images: n(d.max_images),
    label_column_required: d.label_column_required === true,
  };
}

/** Why a ready dataset of an accepted kind still cannot be trained on (the server's checks), or null. */
export function unfit(rule: DatasetRule, d: Dataset): string | null {
  const s = (d.stats ?? {}) as Record<string, unknown>;
  const images = Number(s.image_count ?? 0);
  const rows = Number(s.row_count ?? s.example_count ?? s.conversation_count ?? 0);
  if (rule.min_images !== undefined && images < rule.min_images) return `needs at least ${rule.min_images} images`;
  if (rule.max_images !== undefined && images > rule.max_images) return `takes at most ${rule.max_images} images`;
  if (rule.min_rows !== undefined && rows < rule.min_rows) return `needs at least ${rule.min_rows} rows`;
  if (rule.label_column_required && !(d.options ?? {}).label_column) return 'has no label column';
  return null;
}

export const modelNameFrom = (...parts: string[]) =>
  parts
    .join('-')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+/g, '-')
    .slice(0, 100);

/** All ready datasets (a few pages at most: a picker, not an archive). */
export async function readyDatasets(): Promise<Dataset[]> {
  const out: Dataset[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 5; i++) {
    const p = await must(api.GET('/v1/datasets', { params: { query: { status: 'ready', limit: 200, ...(cursor ? { cursor } : {}) } } }));
    out.push(...(p.data ?? []));
    if (!p.next_cursor) break;
    cursor = p.next_cursor;
  }
  return out;
}

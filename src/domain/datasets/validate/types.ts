import type { Readable } from 'node:stream';
import type { Static } from '../../schema-kit.js';
import type { DatasetOptions as DatasetOptionsShape } from '../schema.js';

export const DATASET_KINDS = ['image-set', 'tabular-csv', 'text-classification-jsonl', 'chat-jsonl', 'archive', 'video-set'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

export interface DatasetFileInput {
  id: string; // e.g. 'file_abc'
  filename: string; // client's name, display only
  bytes: number;
  /** Sniffed by content already: 'image/png' | 'image/jpeg' | 'image/webp' | 'application/zip' | 'text/csv' | 'application/x-ndjson' | 'text/plain' */
  contentType: string;
  /** A fresh stream of the bytes each call. */
  open(): Promise<Readable>;
}

/** Declared once, with the API shape that accepts it. */
export type DatasetOptions = Static<typeof DatasetOptionsShape>;

export interface ValidationLimits {
  /** image-set dataset-level maximum */
  maxImages: number;
  /** max rows/lines over all files */
  maxRows: number;
  /** how many issues to list; errorCount counts them all */
  maxErrors: number;
  /** a single JSONL line / CSV record limit */
  maxLineBytes: number;
  archive: { maxEntries: number; maxTotalBytes: number; maxRatio: number };
  /** video-set: how many videos, how long each, how many bytes in all; each probe's time limit and how many run at once */
  video: { maxVideos: number; maxSeconds: number; maxTotalBytes: number; probeTimeoutMs: number; probeConcurrency: number };
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = Object.freeze({
  maxImages: 1000,
  maxRows: 1_000_000,
  maxErrors: 20,
  maxLineBytes: 1024 * 1024,
  archive: Object.freeze({ maxEntries: 10_000, maxTotalBytes: 1024 * 1024 * 1024, maxRatio: 100 }),
  video: Object.freeze({ maxVideos: 1000, maxSeconds: 600, maxTotalBytes: 10 * 1024 ** 3, probeTimeoutMs: 30_000, probeConcurrency: 2 }),
});

/**
 * `file_id` is always set. An issue about the dataset as a whole (too few classes, too many
 * images or rows) names the file where the problem became visible: the file over the limit,
 * or the first file for properties of all files together, so a client can always point at one.
 * Only a dataset with no files at all gets an empty `file_id`.
 */
export interface ValidationIssue {
  file_id: string;
  /** 1-based physical line of the file */
  line?: number;
  /** archive entry name */
  entry?: string;
  /** A stable machine-readable reason (video-set: VIDEO_FILE_MISSING, NOT_A_VIDEO...); absent where a kind has none yet. */
  code?: string;
  message: string;
}

/** The dataset is valid iff `errorCount === 0`. */
export interface ValidationResult {
  stats: Record<string, unknown>;
  errors: ValidationIssue[];
  errorCount: number;
}

export type KindValidator = (files: readonly DatasetFileInput[], options: DatasetOptions, limits: ValidationLimits) => Promise<ValidationResult>;

/**
 * Collects issues for one validation run. A broken million-line file must not produce a
 * million-element response, so only the first `maxErrors` are kept while every issue is
 * still counted: the count decides validity, the list is for a human to start fixing.
 */
export class IssueList {
  readonly errors: ValidationIssue[] = [];
  errorCount = 0;

  constructor(private readonly maxErrors: number) {}

  add(issue: ValidationIssue): void {
    this.errorCount++;
    if (this.errors.length < this.maxErrors) this.errors.push(issue);
  }

  /** Message prefixed with the line, so the list reads well even where `line` is not shown. */
  atLine(fileId: string, line: number, message: string): void {
    this.add({ file_id: fileId, line, message: `line ${line}: ${message}` });
  }

  result(stats: Record<string, unknown>): ValidationResult {
    return { stats, errors: this.errors, errorCount: this.errorCount };
  }
}

/**
 * Labels are counted per distinct value; an ID-like column used as the label by mistake
 * would otherwise grow the map by one key per row. Past this many classes the dataset is
 * not a classification dataset anyone meant to upload, so counting stops with an issue.
 */
export const MAX_CLASSES = 10_000;

/**
 * Distinct-label counter shared by the classification kinds. Keys are strings because the
 * counts go out as a JSON object; an integer label 1 and a string label "1" are the same
 * class to a client reading that object, so they are deliberately merged.
 */
export class ClassCounter {
  private readonly counts = new Map<string, number>();
  /** Set once more than MAX_CLASSES distinct values were seen; later new values are dropped. */
  overflowed = false;

  /** Returns false exactly once: on the value that first crosses MAX_CLASSES, so the caller reports it once. */
  add(value: string | number): boolean {
    const key = String(value);
    const n = this.counts.get(key);
    if (n !== undefined) {
      this.counts.set(key, n + 1);
      return true;
    }
    if (this.counts.size >= MAX_CLASSES) {
      if (this.overflowed) return true;
      this.overflowed = true;
      return false;
    }
    this.counts.set(key, 1);
    return true;
  }

  get size(): number {
    return this.counts.size;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/** Rounds averages for the JSON API: two decimals carry all the meaning a client needs. */
export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

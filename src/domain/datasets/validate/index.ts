import { validateArchive } from './archive.js';
import { validateImageSet } from './image-set.js';
import { validateChat, validateTextClassification } from './jsonl.js';
import { validateTabularCsv } from './tabular-csv.js';
import { validateVideoSet } from './video-set.js';
import { DATASET_KINDS, DEFAULT_VALIDATION_LIMITS } from './types.js';
import type { DatasetFileInput, DatasetKind, DatasetOptions, KindValidator, ValidationLimits, ValidationResult } from './types.js';

export { DATASET_KINDS, DEFAULT_VALIDATION_LIMITS } from './types.js';
export type { DatasetFileInput, DatasetKind, DatasetOptions, ValidationIssue, ValidationLimits, ValidationResult } from './types.js';
export { isUnsafeEntryName } from './archive.js';
export { readLines } from './jsonl.js';
export type { Line } from './jsonl.js';
export type { ColumnType } from './tabular-csv.js';

/** A Record, not a switch: adding a kind to DATASET_KINDS fails to compile until it has a validator. */
const VALIDATORS: Record<DatasetKind, KindValidator> = {
  'image-set': validateImageSet,
  'tabular-csv': validateTabularCsv,
  'text-classification-jsonl': validateTextClassification,
  'chat-jsonl': validateChat,
  archive: validateArchive,
  'video-set': validateVideoSet,
};

export function isDatasetKind(value: unknown): value is DatasetKind {
  return (DATASET_KINDS as readonly unknown[]).includes(value);
}

/**
 * Checks a dataset's content, streaming every file. Bad content never throws: it comes back as
 * issues, and the dataset is valid iff `errorCount === 0`. A throw means a bug or an IO failure
 * (a file that cannot be opened or read), which the caller must treat as "could not validate",
 * not as "invalid".
 */
export async function validateDataset(
  kind: DatasetKind,
  files: readonly DatasetFileInput[],
  options: DatasetOptions = {},
  limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS,
): Promise<ValidationResult> {
  const validate = VALIDATORS[kind];
  if (!validate) throw new TypeError(`unknown dataset kind: ${String(kind)}`);
  if (files.length === 0) {
    // No file to blame; the empty id marks an issue about the request as a whole.
    return { stats: {}, errors: [{ file_id: '', message: 'the dataset has no files' }], errorCount: 1 };
  }
  return validate(files, options, limits);
}

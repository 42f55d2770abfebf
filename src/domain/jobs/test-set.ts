/**
 * A job's held-out test set (issue #18), checked at creation: scored once at the end by the
 * trainer, it must look like the training data to it, or the figure would be an error at the
 * end of a paid run instead of a 400 now.
 */
import { ConflictError, ValidationError } from '../../errors.js';
import type { Trainer } from '../catalog/types.js';
import type { PublicDataset } from '../datasets/service.js';

const columnNames = (ds: PublicDataset): string[] | null => {
  const cols = ds.stats?.columns;
  return Array.isArray(cols) ? cols.map((c) => String((c as { name?: unknown }).name)) : null;
};

/**
 * The checks, in the order a user fixes them: the trainer can score one, it is another dataset
 * than the training data (the same rows would measure nothing), ready, of the same kind and,
 * for tables, with the training data's columns and the same label and instance options.
 */
export function checkTestSet(t: Trainer, train: PublicDataset, test: PublicDataset): void {
  if (!t.supports_test_set)
    throw new ValidationError('TEST_SET_NOT_SUPPORTED', `${t.id} cannot score a test set; GET /v1/trainers shows the trainers that can (supports_test_set)`);
  if (test.id === train.id)
    throw new ValidationError('TEST_DATASET_IS_TRAINING_DATA', 'test_dataset_id is dataset_id: a test set must be data the model never trains on');
  if (test.status !== 'ready')
    throw new ConflictError('DATASET_NOT_READY', `test dataset ${test.id} is ${test.status}, not ready`, { dataset_id: test.id, status: test.status });
  if (test.kind !== train.kind)
    throw new ValidationError('DATASET_KIND_MISMATCH', `the test dataset is ${test.kind}; it must be of the training data's kind, ${train.kind}`, {
      accepted: [train.kind],
    });
  if (train.kind !== 'tabular-csv') return;
  const problems: string[] = [];
  const have = columnNames(test);
  const want = columnNames(train);
  if (have && want) {
    const missing = want.filter((c) => !have.includes(c));
    if (missing.length) problems.push(`it lacks the column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')}`);
  }
  for (const opt of ['label_column', 'instance_column'] as const) {
    const a = train.options[opt];
    const b = test.options[opt];
    if (a !== b)
      problems.push(
        `options.${opt} is ${b === undefined ? 'not set' : `"${String(b)}"`} where the training data's is ${a === undefined ? 'not set' : `"${String(a)}"`}`,
      );
  }
  if (problems.length)
    throw new ValidationError('TEST_DATASET_COLUMNS', `test dataset ${test.id} does not match the training data: ${problems.join('; ')}`, {
      problems,
      missing_columns: have && want ? want.filter((c) => !have.includes(c)) : [],
    });
}

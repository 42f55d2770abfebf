/**
 * The document's JSON training data as a CSV Trainyard can keep as a dataset. A JSON row is
 * one sample (one row of band powers at one moment), exactly as one line of the document's
 * CSV format is: the rows are written in order, one CSV line each, with the label in `state`.
 */
import { ValidationError } from '../../errors.js';

/** The document's band-power columns, used when a row has exactly five features. */
export const BANDS = ['alpha', 'beta', 'theta', 'delta', 'gamma'];
export const LABEL_COLUMN = 'state';

export const featureNames = (n: number): string[] => (n === BANDS.length ? BANDS : Array.from({ length: n }, (_, i) => `f${i + 1}`));

/**
 * Checks what the schema cannot (equal lengths, rows of one width, at least two classes) and
 * returns the rows as CSV text. `what` names the pair in messages ("X_train"/"y_train").
 */
export function samplesCsv(x: number[][], y: number[], what: { x: string; y: string }, width?: number): { csv: string; width: number; classes: number } {
  if (x.length !== y.length)
    throw new ValidationError('LENGTH_MISMATCH', `${what.x} has ${x.length} rows but ${what.y} has ${y.length} labels; they must match`);
  const w = width ?? x[0]!.length;
  const ragged = x.findIndex((row) => row.length !== w);
  if (ragged >= 0)
    throw new ValidationError(
      'RAGGED_ROWS',
      `${what.x}[${ragged}] has ${x[ragged]!.length} values, but ${width === undefined ? `${what.x}[0]` : 'X_train'} has ${w}: every row needs one value per feature`,
    );
  const classes = new Set(y).size;
  const lines = [[...featureNames(w), LABEL_COLUMN].join(',')];
  for (let i = 0; i < x.length; i++) lines.push(`${x[i]!.join(',')},${y[i]}`);
  return { csv: lines.join('\n') + '\n', width: w, classes };
}

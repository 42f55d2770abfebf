/**
 * Labels keep their type (issue #18): a CSV column of integer classes is answered with
 * integers by `predict`, not with their text. Trainers keep class names as strings inside
 * (map keys, sorting), record the column's type in their preprocessing artifact as
 * `label_type`, and predictors turn the winning class back with typedLabel().
 * Artifacts written before `label_type` existed read as 'string' (what they returned then).
 */

export const LABEL_TYPES = ['string', 'integer', 'number', 'boolean'] as const;
export type LabelType = (typeof LABEL_TYPES)[number];
export type TypedLabel = string | number | boolean;

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(?:true|false)$/i;

/** The most specific type every class name fits; integers beyond 2^53 stay strings. */
export function labelTypeOf(classes: readonly string[]): LabelType {
  if (classes.length === 0) return 'string';
  if (classes.every((c) => INTEGER.test(c) && Number.isSafeInteger(Number(c)))) return 'integer';
  if (classes.every((c) => NUMBER.test(c))) return 'number';
  if (classes.every((c) => BOOLEAN.test(c))) return 'boolean';
  return 'string';
}

export function typedLabel(label: string, type: LabelType | undefined): TypedLabel {
  switch (type) {
    case 'integer':
    case 'number':
      return Number(label);
    case 'boolean':
      return label.toLowerCase() === 'true';
    default:
      return label;
  }
}

export function readLabelType(v: unknown): LabelType {
  return typeof v === 'string' && (LABEL_TYPES as readonly string[]).includes(v) ? (v as LabelType) : 'string';
}

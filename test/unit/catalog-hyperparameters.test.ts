import { describe, expect, it } from 'vitest';
import { BUILTIN_TRAINERS } from '../../src/domain/catalog/builtin.js';

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; [k: string]: unknown };

/** Every numeric leaf of a hyperparameter schema, with its path. */
function numericFields(schema: Schema, at: string, out: [string, Schema][] = []): [string, Schema][] {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes('number') || types.includes('integer')) out.push([at, schema]);
  for (const [k, v] of Object.entries(schema.properties ?? {})) numericFields(v, `${at}.${k}`, out);
  if (schema.items) numericFields(schema.items, `${at}[]`, out);
  return out;
}

describe('built-in trainer hyperparameters (issue #10)', () => {
  it('bound every numeric hyperparameter of every built-in trainer below and above', () => {
    const unbounded = [];
    for (const t of BUILTIN_TRAINERS) {
      for (const [at, s] of numericFields(t.hyperparameters as Schema, t.id)) {
        const min = s.minimum ?? s.exclusiveMinimum;
        const max = s.maximum ?? s.exclusiveMaximum;
        if (typeof min !== 'number' || typeof max !== 'number') unbounded.push(at);
      }
    }
    expect(unbounded).toEqual([]);
  });

  it('gives l1_reg and l2_reg a maximum that refuses absurd regularisation', () => {
    const seq = BUILTIN_TRAINERS.find((t) => t.id === 'sequence-classifier')!;
    const props = (seq.hyperparameters as Schema).properties!;
    for (const k of ['l1_reg', 'l2_reg']) expect([k, props[k]!.maximum]).toEqual([k, 1]);
  });
});

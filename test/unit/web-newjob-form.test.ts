import { describe, expect, it } from 'vitest';
import { BUILTIN_TRAINERS } from '../../src/domain/catalog/builtin.js';
import { validateHyperparameters } from '../../src/domain/jobs/hyperparameters.js';
import { readPricing } from '../../web/src/components/newjob/pricing.js';
import { CHOICE_NUMBER, CUSTOM, OBJECT_ON, buildValue, initDraft, type JsonSchema } from '../../web/src/components/newjob/schema.js';

// The dashboard's new-job form checks hyperparameters and prices the job in the browser, before
// anything is sent. These hold it to the server's own rules for every built-in trainer: what the
// form accepts the server accepts, what it refuses the server refuses, and the price it shows is
// the price the server charges.

const TRAINERS = BUILTIN_TRAINERS.filter((t) => t.kind !== 'inference');
const schemaOf = (t: (typeof TRAINERS)[number]) => t.hyperparameters as unknown as JsonSchema;
const serverAccepts = (schema: JsonSchema, value: Record<string, unknown>) => {
  try {
    validateHyperparameters(schema as Record<string, unknown>, value);
    return true;
  } catch {
    return false;
  }
};
/** Required fields without a default, filled as a person would. */
const REQUIRED_INPUT: Record<string, Record<string, string>> = { 'lora-diffusion': { trigger_word: 'sks' } };

describe('the new-job form against the server', () => {
  it('starts every trainer at its defaults, which the server accepts as they are', () => {
    for (const t of TRAINERS) {
      const schema = schemaOf(t);
      const draft = { ...initDraft(schema), ...REQUIRED_INPUT[t.id] };
      const built = buildValue(schema, draft);
      expect([t.id, built.errors]).toEqual([t.id, {}]);
      // What the form sends is complete: the server has nothing left to fill in.
      expect([t.id, built.value]).toEqual([t.id, validateHyperparameters(t.hyperparameters, built.value)]);
    }
  });

  it('refuses at the field exactly the numbers the server refuses: bounds, whole numbers, multiples', () => {
    let checked = 0;
    for (const t of TRAINERS) {
      const schema = schemaOf(t);
      const base = { ...initDraft(schema), ...REQUIRED_INPUT[t.id] };
      for (const [key, s] of Object.entries(schema.properties ?? {})) {
        const type = s.type;
        if (type !== 'integer' && type !== 'number') continue;
        const lo = s.minimum ?? s.exclusiveMinimum;
        const hi = s.maximum ?? s.exclusiveMaximum;
        const tries = [lo, hi, lo !== undefined ? lo - 1 : undefined, hi !== undefined ? hi + 1 : undefined, type === 'integer' ? (lo ?? 0) + 0.5 : undefined];
        if (s.multipleOf) tries.push((lo ?? 0) + s.multipleOf + 1);
        for (const v of tries) {
          if (v === undefined) continue;
          const built = buildValue(schema, { ...base, [key]: String(v) });
          const formOk = built.errors[key] === undefined;
          const server = serverAccepts(schema, { ...built.value, [key]: v });
          expect([t.id, key, v, formOk]).toEqual([t.id, key, v, server]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('turns `integer | "auto"` and a switched-on nested object into what the server takes', () => {
    const seq = TRAINERS.find((t) => t.id === 'sequence-classifier')!;
    const schema = schemaOf(seq);
    const draft = {
      ...initDraft(schema),
      sequence_length: CUSTOM,
      [`sequence_length${CHOICE_NUMBER}`]: '64',
      [`validation${OBJECT_ON}`]: true,
      'validation.folds': '5',
    };
    const built = buildValue(schema, draft);
    expect(built.errors).toEqual({});
    expect(built.value).toMatchObject({ sequence_length: 64, validation: { folds: 5 }, patience: 'auto' });
    expect(serverAccepts(schema, built.value)).toBe(true);
    expect(buildValue(schema, { ...draft, [`sequence_length${CHOICE_NUMBER}`]: '2000' }).errors).toEqual({ sequence_length: 'Must be at most 1024.' });
    expect(buildValue(schema, { ...draft, 'validation.folds': '' }).errors).toEqual({ 'validation.folds': 'Required.' });
    expect(buildValue(schema, { ...draft, 'validation.folds': '11' }).errors).toEqual({ 'validation.folds': 'Must be at most 10.' });
    // Switched off, the object is left out altogether.
    expect(buildValue(schema, { ...draft, [`validation${OBJECT_ON}`]: false }).value.validation).toBeUndefined();
  });

  // The credits are the server's own priceJob (imported by the form); what the form adds is
  // reading the rule out of the API's JSON: every built-in trainer's rule must come back whole.
  it("reads every trainer's pricing rule from the API shape unchanged, and refuses a malformed one", () => {
    for (const t of TRAINERS) expect([t.id, readPricing(t.pricing)]).toEqual([t.id, t.pricing]);
    expect(readPricing({ type: 'linear', param: 'epochs' })).toBeUndefined();
    expect(readPricing(null)).toBeUndefined();
  });
});

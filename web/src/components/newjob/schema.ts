/**
 * The part of JSON Schema that trainers' hyperparameters use (GET /v1/trainers: hyperparameters),
 * turned into a form: the fields' first values (the defaults), the values typed so far, and the
 * checks the server's Ajv would make (ranges, whole numbers, enums, patterns, required), so a
 * mistake shows at the field before anything is sent.
 */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: readonly unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: readonly JsonSchema[];
  oneOf?: readonly JsonSchema[];
}

/** The form's state: raw field texts and switches by dotted path ("epochs", "validation.folds"). */
export type Draft = Record<string, string | boolean>;

export type FieldKind =
  | { kind: 'number'; integer: boolean }
  | { kind: 'boolean' }
  | { kind: 'enum'; values: readonly unknown[] }
  | { kind: 'string' }
  | { kind: 'string-list' }
  | { kind: 'object' }
  /** anyOf/oneOf of fixed words and one number type, e.g. `integer | "auto"`. */
  | { kind: 'choice'; words: readonly unknown[]; number: JsonSchema | undefined }
  | { kind: 'json' };

/** Keys under a path for the extra state some fields keep. */
export const CHOICE_NUMBER = '#value';
export const OBJECT_ON = '#on';
/** The select's value that means "a number" rather than one of the words. */
export const CUSTOM = '__number__';

const typeOf = (s: JsonSchema): string | undefined => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

export function fieldKind(s: JsonSchema): FieldKind {
  const alts = s.anyOf ?? s.oneOf;
  if (alts && alts.length) {
    const words: unknown[] = [];
    let number: JsonSchema | undefined;
    let simple = true;
    for (const a of alts) {
      const t = typeOf(a);
      if (a.const !== undefined) words.push(a.const);
      else if (a.enum) words.push(...a.enum);
      else if ((t === 'integer' || t === 'number') && !number) number = a;
      else simple = false;
    }
    return simple ? { kind: 'choice', words, number } : { kind: 'json' };
  }
  if (s.enum) return { kind: 'enum', values: s.enum };
  switch (typeOf(s)) {
    case 'integer':
      return { kind: 'number', integer: true };
    case 'number':
      return { kind: 'number', integer: false };
    case 'boolean':
      return { kind: 'boolean' };
    case 'string':
      return { kind: 'string' };
    case 'object':
      return s.properties ? { kind: 'object' } : { kind: 'json' };
    case 'array': {
      const it = s.items;
      return it && typeOf(it) === 'string' && !it.enum ? { kind: 'string-list' } : { kind: 'json' };
    }
    default:
      return { kind: 'json' };
  }
}

/** An enum value as an <option> value (and back): JSON, so numbers and strings stay apart. */
export const optionValue = (v: unknown) => JSON.stringify(v);

export const humanize = (key: string) => {
  const s = key.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
};

/** The first state of the form: every field at its default (or `values`, e.g. a job to copy). */
export function initDraft(schema: JsonSchema, values: Record<string, unknown> = {}, prefix = ''): Draft {
  const d: Draft = {};
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    const path = prefix + key;
    const v = key in values ? values[key] : s.default;
    const k = fieldKind(s);
    switch (k.kind) {
      case 'number':
      case 'string':
        d[path] = v === undefined || v === null ? '' : String(v);
        break;
      case 'boolean':
        d[path] = v === true;
        break;
      case 'enum':
        d[path] = v === undefined ? '' : optionValue(v);
        break;
      case 'string-list':
        d[path] = Array.isArray(v) ? v.join(', ') : '';
        break;
      case 'choice':
        if (v !== undefined && k.words.some((w) => w === v)) {
          d[path] = optionValue(v);
          d[path + CHOICE_NUMBER] = '';
        } else {
          d[path] = v === undefined && k.words.length ? optionValue(k.words[0]) : CUSTOM;
          d[path + CHOICE_NUMBER] = typeof v === 'number' ? String(v) : '';
        }
        break;
      case 'object': {
        const sub = v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
        d[path + OBJECT_ON] = v !== undefined && v !== null;
        Object.assign(d, initDraft(s, sub, `${path}.`));
        break;
      }
      case 'json':
        d[path] = v === undefined ? '' : JSON.stringify(v);
        break;
    }
  }
  return d;
}

const fmt = (n: number) => String(n);

/** What is wrong with a number for its schema, in words; undefined when nothing is. */
export function checkNumber(n: number, s: JsonSchema, integer: boolean): string | undefined {
  if (!Number.isFinite(n)) return 'Enter a number.';
  if (integer && !Number.isInteger(n)) return 'Enter a whole number.';
  if (s.minimum !== undefined && n < s.minimum) return `Must be at least ${fmt(s.minimum)}.`;
  if (s.exclusiveMinimum !== undefined && n <= s.exclusiveMinimum) return `Must be more than ${fmt(s.exclusiveMinimum)}.`;
  if (s.maximum !== undefined && n > s.maximum) return `Must be at most ${fmt(s.maximum)}.`;
  if (s.exclusiveMaximum !== undefined && n >= s.exclusiveMaximum) return `Must be less than ${fmt(s.exclusiveMaximum)}.`;
  if (s.multipleOf !== undefined && s.multipleOf > 0) {
    const q = n / s.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) return `Must be a multiple of ${fmt(s.multipleOf)}.`;
  }
  return undefined;
}

function checkString(v: string, s: JsonSchema): string | undefined {
  if (s.minLength !== undefined && v.length < s.minLength) return `At least ${s.minLength} character${s.minLength === 1 ? '' : 's'}.`;
  if (s.maxLength !== undefined && v.length > s.maxLength) return `At most ${s.maxLength} characters.`;
  if (s.pattern) {
    try {
      if (!new RegExp(s.pattern, 'u').test(v)) return `Does not match the expected form (${s.pattern}).`;
    } catch {
      // a pattern this browser cannot compile is left to the server
    }
  }
  return undefined;
}

/** A number typed into a field: '' is "not given"; anything else must parse whole. */
const parseNumber = (raw: string): number => (raw.trim() === '' ? NaN : Number(raw.trim()));

export interface Built {
  value: Record<string, unknown>;
  errors: Record<string, string>;
}

/**
 * The hyperparameters the form stands for, and what is wrong with them by path. A field left
 * empty is left out (the server fills in its default); a required one left empty is an error.
 */
export function buildValue(schema: JsonSchema, draft: Draft, prefix = ''): Built {
  const value: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const required = new Set(schema.required ?? []);
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    const path = prefix + key;
    const raw = draft[path];
    const text = typeof raw === 'string' ? raw : '';
    const empty = text.trim() === '';
    const k = fieldKind(s);
    const need = () => {
      if (required.has(key)) errors[path] = 'Required.';
    };
    switch (k.kind) {
      case 'number': {
        if (empty) {
          need();
          break;
        }
        const n = parseNumber(text);
        const e = checkNumber(n, s, k.integer);
        if (e) errors[path] = e;
        else value[key] = n;
        break;
      }
      case 'boolean':
        value[key] = raw === true;
        break;
      case 'enum': {
        if (empty) {
          need();
          break;
        }
        const v = JSON.parse(text) as unknown;
        if (!k.values.some((x) => x === v)) errors[path] = 'Choose one of the options.';
        else value[key] = v;
        break;
      }
      case 'string': {
        if (text === '') {
          need();
          break;
        }
        const e = checkString(text, s);
        if (e) errors[path] = e;
        else value[key] = text;
        break;
      }
      case 'string-list': {
        const items = text
          .split(/[,\n]/)
          .map((x) => x.trim())
          .filter(Boolean);
        if (items.length === 0) {
          need();
          break;
        }
        const bad = s.items ? items.map((x) => checkString(x, s.items!)).find(Boolean) : undefined;
        if (bad) errors[path] = bad;
        else if (s.minItems !== undefined && items.length < s.minItems) errors[path] = `At least ${s.minItems} item${s.minItems === 1 ? '' : 's'}.`;
        else if (s.maxItems !== undefined && items.length > s.maxItems) errors[path] = `At most ${s.maxItems} items.`;
        else value[key] = items;
        break;
      }
      case 'choice': {
        if (text !== CUSTOM) {
          if (empty) {
            need();
            break;
          }
          value[key] = JSON.parse(text) as unknown;
          break;
        }
        const nraw = draft[path + CHOICE_NUMBER];
        const ntext = typeof nraw === 'string' ? nraw : '';
        if (!k.number) {
          errors[path] = 'Choose one of the options.';
          break;
        }
        const integer = typeOf(k.number) === 'integer';
        const n = parseNumber(ntext);
        const e = ntext.trim() === '' ? 'Enter a number.' : checkNumber(n, k.number, integer);
        if (e) errors[path] = e;
        else value[key] = n;
        break;
      }
      case 'object': {
        if (!required.has(key) && draft[path + OBJECT_ON] !== true) break;
        const sub = buildValue(s, draft, `${path}.`);
        Object.assign(errors, sub.errors);
        value[key] = sub.value;
        break;
      }
      case 'json': {
        if (empty) {
          need();
          break;
        }
        try {
          value[key] = JSON.parse(text) as unknown;
        } catch {
          errors[path] = 'Not valid JSON.';
        }
        break;
      }
    }
  }
  return { value, errors };
}

/** `value` with the schema's top-level defaults filled in, as the server completes it (for the price). */
export function withDefaults(schema: JsonSchema, value: Record<string, unknown>): Record<string, unknown> {
  const out = { ...value };
  for (const [key, s] of Object.entries(schema.properties ?? {})) if (!(key in out) && s.default !== undefined) out[key] = s.default;
  return out;
}

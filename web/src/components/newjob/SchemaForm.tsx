import type { ReactNode } from 'react';
import { CHOICE_NUMBER, CUSTOM, OBJECT_ON, fieldKind, humanize, optionValue, type Draft, type JsonSchema } from './schema';

interface Props {
  schema: JsonSchema;
  draft: Draft;
  onChange: (path: string, value: string | boolean) => void;
  /** Errors by path, from the form's own checks or the server's 400. */
  errors: Record<string, string>;
  /** Field ids start with this (several forms on one page stay apart). */
  idPrefix?: string;
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** "1–500 · default 100": what the schema allows, said once under the field. */
function constraints(s: JsonSchema): string {
  const parts: string[] = [];
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `more than ${s.exclusiveMinimum}` : undefined);
  const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? `less than ${s.exclusiveMaximum}` : undefined);
  if (typeof lo === 'number' && typeof hi === 'number') parts.push(`${lo} to ${hi}`);
  else if (lo !== undefined && hi !== undefined) parts.push(`${lo}, at most ${hi}`);
  else if (lo !== undefined) parts.push(typeof lo === 'number' ? `at least ${lo}` : lo);
  else if (hi !== undefined) parts.push(typeof hi === 'number' ? `at most ${hi}` : hi);
  if (s.multipleOf !== undefined) parts.push(`a multiple of ${s.multipleOf}`);
  if (s.maxLength !== undefined) parts.push(`up to ${s.maxLength} characters`);
  if (s.default !== undefined) parts.push(`default ${show(s.default)}`);
  return parts.join(' · ');
}

/**
 * A form generated from a JSON Schema (a trainer's hyperparameters): numbers with their range
 * and step, enums as selects, booleans as checkboxes, `integer | "auto"` as a select with a
 * number beside it, nested objects as fieldsets, each field's description as its help.
 */
export function SchemaForm({ schema, draft, onChange, errors, idPrefix = 'hp' }: Props) {
  return <Fields schema={schema} draft={draft} onChange={onChange} errors={errors} idPrefix={idPrefix} prefix="" />;
}

function Fields({ schema, draft, onChange, errors, idPrefix, prefix }: Required<Props> & { prefix: string }) {
  const required = new Set(schema.required ?? []);
  const entries = Object.entries(schema.properties ?? {});
  // Plain fields side by side; fieldsets (nested objects) on rows of their own, after them.
  const plain = entries.filter(([, s]) => fieldKind(s).kind !== 'object');
  const nested = entries.filter(([, s]) => fieldKind(s).kind === 'object');
  return (
    <>
      <div className="schema-grid">
        {plain.map(([key, s]) => (
          <Field key={key} name={key} path={prefix + key} schema={s} required={required.has(key)} {...{ draft, onChange, errors, idPrefix }} />
        ))}
      </div>
      {nested.map(([key, s]) => (
        <Field key={key} name={key} path={prefix + key} schema={s} required={required.has(key)} {...{ draft, onChange, errors, idPrefix }} />
      ))}
    </>
  );
}

function Field({
  name,
  path,
  schema: s,
  required,
  draft,
  onChange,
  errors,
  idPrefix,
}: {
  name: string;
  path: string;
  schema: JsonSchema;
  required: boolean;
  draft: Draft;
  onChange: Props['onChange'];
  errors: Record<string, string>;
  idPrefix: string;
}) {
  const id = `${idPrefix}-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  const k = fieldKind(s);
  const err = errors[path];
  const text = typeof draft[path] === 'string' ? (draft[path] as string) : '';
  const limits = constraints(s);
  const helpId = `${id}-help`;
  const errId = `${id}-error`;
  const describedBy = [helpId, err ? errId : ''].filter(Boolean).join(' ');
  const label = (
    <>
      {s.title ?? humanize(name)}
      {required && <span aria-hidden="true"> *</span>}
      {required && <span className="visually-hidden"> (required)</span>}
    </>
  );
  const help = (
    <p className="help" id={helpId}>
      <code>{name}</code>
      {limits && <> · {limits}</>}
      {s.description && <> — {s.description}</>}
    </p>
  );
  const errorNote = err ? (
    <p className="field-error" id={errId} data-testid={`error-${path}`}>
      {err}
    </p>
  ) : null;
  const common = { id, 'aria-describedby': describedBy, 'aria-invalid': err ? true : undefined } as const;

  let control: ReactNode;
  switch (k.kind) {
    case 'number': {
      const step = s.multipleOf ?? (k.integer ? 1 : 'any');
      control = (
        <input
          {...common}
          type="number"
          inputMode={k.integer ? 'numeric' : 'decimal'}
          min={s.minimum ?? s.exclusiveMinimum}
          max={s.maximum ?? s.exclusiveMaximum}
          step={step}
          value={text}
          placeholder={s.default !== undefined ? show(s.default) : undefined}
          required={required}
          onChange={(e) => onChange(path, e.target.value)}
        />
      );
      break;
    }
    case 'boolean':
      return (
        <div className="schema-field schema-check">
          <input {...common} type="checkbox" checked={draft[path] === true} onChange={(e) => onChange(path, e.target.checked)} />
          <label htmlFor={id}>{label}</label>
          {help}
          {errorNote}
        </div>
      );
    case 'enum':
      control = (
        <select {...common} value={text} required={required} onChange={(e) => onChange(path, e.target.value)}>
          {s.default === undefined && <option value="">{required ? 'Choose…' : '(not set)'}</option>}
          {k.values.map((v) => (
            <option key={optionValue(v)} value={optionValue(v)}>
              {show(v)}
            </option>
          ))}
        </select>
      );
      break;
    case 'string':
      control =
        (s.maxLength ?? 0) > 200 ? (
          <textarea {...common} value={text} maxLength={s.maxLength} required={required} rows={2} onChange={(e) => onChange(path, e.target.value)} />
        ) : (
          <input {...common} type="text" value={text} maxLength={s.maxLength} required={required} onChange={(e) => onChange(path, e.target.value)} />
        );
      break;
    case 'string-list':
      control = <input {...common} type="text" value={text} placeholder="comma-separated" onChange={(e) => onChange(path, e.target.value)} />;
      break;
    case 'choice': {
      const numPath = path + CHOICE_NUMBER;
      const num = typeof draft[numPath] === 'string' ? (draft[numPath] as string) : '';
      const custom = text === CUSTOM;
      const n = k.number;
      const integer = n && (Array.isArray(n.type) ? n.type.includes('integer') : n.type === 'integer');
      control = (
        <div className="row choice">
          <select {...common} value={text} onChange={(e) => onChange(path, e.target.value)}>
            {!required && s.default === undefined && <option value="">(not set)</option>}
            {k.words.map((w) => (
              <option key={optionValue(w)} value={optionValue(w)}>
                {show(w)}
              </option>
            ))}
            {n && <option value={CUSTOM}>{integer ? 'a whole number' : 'a number'}…</option>}
          </select>
          {n && custom && (
            <input
              id={`${id}-value`}
              type="number"
              aria-label={`${s.title ?? humanize(name)}: value`}
              aria-describedby={describedBy}
              aria-invalid={err ? true : undefined}
              inputMode={integer ? 'numeric' : 'decimal'}
              min={n.minimum ?? n.exclusiveMinimum}
              max={n.maximum ?? n.exclusiveMaximum}
              step={n.multipleOf ?? (integer ? 1 : 'any')}
              value={num}
              onChange={(e) => onChange(numPath, e.target.value)}
            />
          )}
        </div>
      );
      break;
    }
    case 'object': {
      const on = required || draft[path + OBJECT_ON] === true;
      return (
        <fieldset className="schema-object" aria-describedby={helpId}>
          <legend>{s.title ?? humanize(name)}</legend>
          {help}
          {!required && (
            <div className="schema-check">
              <input id={`${id}-on`} type="checkbox" checked={on} onChange={(e) => onChange(path + OBJECT_ON, e.target.checked)} />
              <label htmlFor={`${id}-on`}>Use {humanize(name).toLowerCase()}</label>
            </div>
          )}
          {on && <Fields schema={s} draft={draft} onChange={onChange} errors={errors} idPrefix={idPrefix} prefix={`${path}.`} />}
          {errorNote}
        </fieldset>
      );
    }
    case 'json':
      control = <textarea {...common} value={text} rows={2} placeholder="JSON" onChange={(e) => onChange(path, e.target.value)} />;
      break;
  }
  return (
    <div className="schema-field">
      <label htmlFor={id}>{label}</label>
      {control}
      {help}
      {errorNote}
    </div>
  );
}

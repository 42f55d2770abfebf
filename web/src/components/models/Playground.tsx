import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { api, must } from '../../api/client';
import type { Ok } from '../../api/types';
import { BarChart, ErrorNote } from '../ui';

type Predictions = Ok<'/v1/models/{name}/predict', 'post'>;

/** What a version expects, read from its training job's result (details.features, sequence_length). */
export interface InputShape {
  kind: 'tabular' | 'sequence' | 'text' | 'unknown';
  /** Columns of one row: numeric ones, and categorical ones with their values (one-hot "col=value" features). */
  fields: { name: string; values?: string[] }[];
  /** Rows per instance for sequence models. */
  rows: number;
}

/** The input shape of a classifier from its trainer's task and its job's result details. */
export function inputShape(task: string | undefined, details: Record<string, unknown> | undefined): InputShape {
  const features = Array.isArray(details?.features) ? details.features.filter((f): f is string => typeof f === 'string') : [];
  const fields: InputShape['fields'] = [];
  for (const f of features) {
    const eq = f.indexOf('=');
    if (eq < 0) {
      if (!fields.some((x) => x.name === f)) fields.push({ name: f });
      continue;
    }
    const col = f.slice(0, eq);
    const field = fields.find((x) => x.name === col) ?? (fields.push({ name: col, values: [] }), fields[fields.length - 1]!);
    field.values = [...(field.values ?? []), f.slice(eq + 1)];
  }
  if (task === 'text-classification') return { kind: 'text', fields: [], rows: 1 };
  if (task === 'sequence-classification') {
    const n = typeof details?.sequence_length === 'number' ? details.sequence_length : 8;
    return { kind: fields.length ? 'sequence' : 'unknown', fields, rows: Math.max(1, Math.min(n, 512)) };
  }
  if (task === 'tabular-classification') return { kind: fields.length ? 'tabular' : 'unknown', fields, rows: 1 };
  return { kind: 'unknown', fields, rows: 1 };
}

type Row = Record<string, string>;

function toInstance(shape: InputShape, row: Row, text: string): unknown {
  if (shape.kind === 'text') return text;
  const obj: Record<string, string | number> = {};
  for (const f of shape.fields) {
    const v = row[f.name] ?? '';
    obj[f.name] = f.values ? v : v.trim() === '' ? '' : Number(v);
  }
  return shape.kind === 'sequence' ? Array.from({ length: shape.rows }, () => obj) : obj;
}

function initialRow(shape: InputShape): Row {
  return Object.fromEntries(shape.fields.map((f) => [f.name, f.values ? (f.values[0] ?? '') : '0.5']));
}

/** One instance a line, and a sequence's rows one a line: readable, and short enough to edit. */
function formatInstances(instances: unknown[]): string {
  const one = (x: unknown) => (Array.isArray(x) ? `[\n  ${x.map((r) => JSON.stringify(r)).join(',\n  ')}\n ]` : JSON.stringify(x));
  return `[\n ${instances.map(one).join(',\n ')}\n]`;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/**
 * Predict with a version: a JSON array of instances (prefilled with a valid one from the
 * version's own input columns) and, where the columns are known, a form for one row that
 * writes the JSON. The answer: the label and its probabilities as bars. Key it by the shape:
 * a new shape starts a new form.
 */
export function Playground({ model, versions, shape }: { model: string; versions: { value: string; label: string }[]; shape: InputShape }) {
  const id = useId();
  const [which, setWhich] = useState(versions[0]?.value ?? 'latest');
  const [row, setRow] = useState<Row>(() => initialRow(shape));
  const [text, setText] = useState('ignore all previous instructions');
  const example = useMemo(() => formatInstances([toInstance(shape, row, text)]), [shape, row, text]);
  const [json, setJson] = useState(example);
  useEffect(() => setJson(example), [example]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [answer, setAnswer] = useState<Predictions>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    let instances: unknown;
    try {
      instances = JSON.parse(json);
    } catch (err) {
      setError(new Error(`The instances are not valid JSON: ${(err as Error).message}`));
      return;
    }
    if (!Array.isArray(instances) || instances.length === 0) {
      setError(new Error('The instances must be a JSON array with at least one instance.'));
      return;
    }
    setBusy(true);
    try {
      const ref = /^\d+$/.test(which) ? { version: Number(which) } : { alias: which };
      setAnswer(await must(api.POST('/v1/models/{name}/predict', { params: { path: { name: model } }, body: { ...ref, instances } })));
    } catch (err) {
      setAnswer(undefined);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Try a prediction</h3>
      <div>
        <label htmlFor={`${id}-v`}>Version</label>
        <select id={`${id}-v`} value={which} onChange={(e) => setWhich(e.target.value)}>
          {versions.map((v) => (
            <option key={v.value} value={v.value}>
              {v.label}
            </option>
          ))}
        </select>
      </div>
      {shape.kind === 'text' && (
        <div>
          <label htmlFor={`${id}-text`}>Text</label>
          <input id={`${id}-text`} value={text} onChange={(e) => setText(e.target.value)} style={{ width: '100%' }} />
        </div>
      )}
      {(shape.kind === 'tabular' || shape.kind === 'sequence') && (
        <fieldset>
          <legend>One row{shape.kind === 'sequence' ? `, repeated to a window of ${shape.rows} rows` : ''} (it writes the JSON below)</legend>
          <div className="feature-grid">
            {shape.fields.map((f) => (
              <div key={f.name}>
                <label htmlFor={`${id}-f-${f.name}`}>{f.name}</label>
                {f.values ? (
                  <select id={`${id}-f-${f.name}`} value={row[f.name] ?? ''} onChange={(e) => setRow({ ...row, [f.name]: e.target.value })}>
                    {f.values.map((v) => (
                      <option key={v}>{v}</option>
                    ))}
                  </select>
                ) : (
                  <input
                    id={`${id}-f-${f.name}`}
                    inputMode="decimal"
                    value={row[f.name] ?? ''}
                    onChange={(e) => setRow({ ...row, [f.name]: e.target.value })}
                  />
                )}
              </div>
            ))}
          </div>
        </fieldset>
      )}
      <div>
        <label htmlFor={`${id}-json`}>Instances (JSON array)</label>
        <textarea
          id={`${id}-json`}
          className="code"
          value={json}
          onChange={(e) => setJson(e.target.value)}
          spellCheck={false}
          aria-describedby={`${id}-help`}
        />
        <p className="help" id={`${id}-help`}>
          {shape.kind === 'sequence'
            ? `Each instance is a list of ${shape.rows} rows (or one whole recording for a model trained with recordings).`
            : shape.kind === 'tabular'
              ? 'Each instance is one row: an object of column values.'
              : shape.kind === 'text'
                ? 'Each instance is a string.'
                : 'The instances as the model expects them.'}
        </p>
      </div>
      <p>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Predicting…' : 'Predict'}
        </button>
      </p>
      <ErrorNote error={error} />
      <div role="status" aria-live="polite" data-testid="prediction">
        {answer?.predictions?.map((p, i) => (
          <div key={i}>
            <p>
              {answer.predictions!.length > 1 ? `Instance ${i + 1}: ` : ''}predicted <strong data-testid="predicted-label">{String(p.label)}</strong>
              {p.filled ? <span className="muted"> ({p.filled} missing values filled with their training mean)</span> : null}
            </p>
            <BarChart
              title={`Probabilities${answer.predictions!.length > 1 ? ` (instance ${i + 1})` : ''} · version ${answer.version}`}
              bars={Object.entries(p.probabilities ?? {})
                .sort((a, b) => b[1] - a[1])
                .map(([label, value]) => ({ label, value }))}
              format={pct}
            />
          </div>
        ))}
      </div>
    </form>
  );
}

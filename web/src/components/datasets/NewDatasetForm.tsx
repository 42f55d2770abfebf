import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { ApiError, api, must } from '../../api/client';
import { ErrorNote } from '../ui';
import { fieldErrors } from './field-errors';
import { DATASET_KINDS, DATASET_NAME, KIND_OPTIONS, guessKind, nameFromFile, type DatasetKind, type DatasetOptions } from './model';
import { DropZone, UploadList, useUploads } from './Uploader';

const OPTION_TEXT: Record<keyof DatasetOptions, { label: string; help: string }> = {
  label_column: { label: 'Label column', help: 'The column a classifier learns to predict (classification trainers need it).' },
  instance_column: {
    label: 'Instance column (optional)',
    help: 'Rows with the same value form one instance, e.g. one recording; the label must be the same within it.',
  },
  order_column: {
    label: 'Order column (optional)',
    help: 'Orders rows in time (within each instance when an instance column is set): a number or a date-time.',
  },
  text_field: { label: 'Text field (optional)', help: 'The JSON field holding the text; default "text".' },
  label_field: { label: 'Label field (optional)', help: 'The JSON field holding the label; default "label".' },
};

/** The header of a CSV file, read from its first bytes in the browser, to suggest column names. */
async function csvHeader(file: File): Promise<string[]> {
  const head = await file.slice(0, 64 * 1024).text();
  const line = head.replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cur);
      cur = '';
    } else cur += ch;
  }
  cells.push(cur);
  return cells.map((c) => c.trim()).filter(Boolean);
}

/** New dataset: upload files (each with progress), then name it, pick its kind and options, create. */
export function NewDatasetForm() {
  const [, navigate] = useLocation();
  const uploads = useUploads();
  const [name, setName] = useState('');
  const [nameTouched, setNameTouched] = useState(false);
  const [kind, setKind] = useState<DatasetKind | ''>('');
  const [kindTouched, setKindTouched] = useState(false);
  const [description, setDescription] = useState('');
  const [options, setOptions] = useState<Partial<Record<keyof DatasetOptions, string>>>({});
  const [columns, setColumns] = useState<string[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [tried, setTried] = useState(false);

  const { items } = uploads;
  const done = items.filter((x) => x.status === 'done');
  const pending = items.some((x) => x.status === 'uploading');
  // Keyed on the names alone: progress updates replace the items many times a second.
  const nameKey = items.map((x) => x.file.name).join('\n');
  const names = useMemo(() => (nameKey ? nameKey.split('\n') : []), [nameKey]);

  // First guesses from the files, until the person sets the field themselves.
  useEffect(() => {
    if (!kindTouched) setKind(guessKind(names) ?? '');
    if (!nameTouched) setName(names[0] ? nameFromFile(names[0]) : '');
  }, [names, kindTouched, nameTouched]);

  const firstCsv = items.find((x) => /\.(csv|tsv|txt)$/i.test(x.file.name))?.file;
  useEffect(() => {
    let live = true;
    if (!firstCsv) setColumns([]);
    else
      csvHeader(firstCsv).then(
        (c) => live && setColumns(c),
        () => live && setColumns([]),
      );
    return () => {
      live = false;
    };
  }, [firstCsv]);

  const fe = fieldErrors(error);
  if (error instanceof ApiError && (error.code === 'DATASET_NAME_EXISTS' || error.code === 'INVALID_NAME')) fe.name ??= error.message;
  const nameError = tried && !DATASET_NAME.test(name.trim()) ? 'Use 1–100 letters, digits, spaces, "_", "." or "-", starting with a letter or digit.' : fe.name;
  const kindError = tried && !kind ? 'Choose what kind of data this is.' : fe.kind;
  const filesError = tried && done.length === 0 ? 'Upload at least one file first.' : fe.file_ids;

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setTried(true);
    if (!DATASET_NAME.test(name.trim()) || !kind || done.length === 0 || pending) return;
    const opts: DatasetOptions = {};
    for (const k of KIND_OPTIONS[kind]) {
      const v = options[k]?.trim();
      if (v) opts[k] = v;
    }
    setBusy(true);
    setError(undefined);
    try {
      const ds = await must(
        api.POST('/v1/datasets', {
          body: {
            name: name.trim(),
            kind,
            file_ids: done.map((x) => x.info!.id!),
            ...(description.trim() ? { description: description.trim() } : {}),
            ...(Object.keys(opts).length ? { options: opts } : {}),
          },
        }),
      );
      navigate(`/datasets/${encodeURIComponent(ds.id!)}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const listId = 'csv-columns';
  const kindHelp = DATASET_KINDS.find((k) => k.kind === kind)?.help;
  return (
    <form className="card stack new-dataset" onSubmit={submit} noValidate aria-labelledby="new-dataset-title">
      <h2 id="new-dataset-title" tabIndex={-1}>
        New dataset
      </h2>
      <DropZone onFiles={uploads.add} disabled={busy} />
      {filesError && (
        <p className="field-error" role="alert">
          {filesError}
        </p>
      )}
      <UploadList items={items} onRemove={uploads.remove} onRetry={uploads.retry} />

      <div className="grid">
        <div>
          <label htmlFor="ds-name">Name</label>
          <input
            id="ds-name"
            value={name}
            maxLength={100}
            required
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? 'ds-name-error' : undefined}
            onChange={(e) => {
              setName(e.target.value);
              setNameTouched(true);
            }}
          />
          {nameError && (
            <p className="field-error" id="ds-name-error">
              {nameError}
            </p>
          )}
        </div>
        <div>
          <label htmlFor="ds-kind">Kind</label>
          <select
            id="ds-kind"
            value={kind}
            required
            aria-invalid={kindError ? true : undefined}
            aria-describedby={`ds-kind-help${kindError ? ' ds-kind-error' : ''}`}
            onChange={(e) => {
              setKind(e.target.value as DatasetKind | '');
              setKindTouched(true);
            }}
          >
            <option value="">Choose…</option>
            {DATASET_KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label} — {k.kind}
              </option>
            ))}
          </select>
          <p className="help" id="ds-kind-help">
            {kindHelp ?? 'What the files hold; it decides how they are checked and which trainers can use them.'}
          </p>
          {kindError && (
            <p className="field-error" id="ds-kind-error">
              {kindError}
            </p>
          )}
        </div>
      </div>

      {kind && KIND_OPTIONS[kind].length > 0 && (
        <fieldset className="ds-options">
          <legend>Options for {kind}</legend>
          {kind === 'tabular-csv' && columns.length > 0 && (
            <p className="help">
              Columns in {firstCsv?.name}: {columns.join(', ')}.
            </p>
          )}
          {columns.length > 0 && kind === 'tabular-csv' && (
            <datalist id={listId}>
              {columns.map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          )}
          <div className="grid">
            {KIND_OPTIONS[kind].map((k) => {
              const err = fe[`options.${k}`];
              return (
                <div key={k}>
                  <label htmlFor={`ds-opt-${k}`}>{OPTION_TEXT[k].label}</label>
                  <input
                    id={`ds-opt-${k}`}
                    value={options[k] ?? ''}
                    maxLength={200}
                    list={kind === 'tabular-csv' && columns.length ? listId : undefined}
                    aria-describedby={`ds-opt-${k}-help${err ? ` ds-opt-${k}-error` : ''}`}
                    aria-invalid={err ? true : undefined}
                    onChange={(e) => setOptions((o) => ({ ...o, [k]: e.target.value }))}
                  />
                  <p className="help" id={`ds-opt-${k}-help`}>
                    {OPTION_TEXT[k].help}
                  </p>
                  {err && (
                    <p className="field-error" id={`ds-opt-${k}-error`}>
                      {err}
                    </p>
                  )}
                </div>
              );
            })}
          </div>
        </fieldset>
      )}

      <div>
        <label htmlFor="ds-description">Description (optional)</label>
        <textarea id="ds-description" value={description} maxLength={2000} onChange={(e) => setDescription(e.target.value)} />
      </div>

      <ErrorNote error={error} title="The dataset was not created" />
      <div className="row">
        <button type="submit" className="primary" disabled={busy || pending}>
          {busy ? 'Creating…' : 'Create dataset'}
        </button>
        {pending && <span className="muted">Waiting for the uploads to finish…</span>}
        {items.length > 0 && !busy && (
          <button type="button" onClick={uploads.clear}>
            Start over
          </button>
        )}
      </div>
    </form>
  );
}

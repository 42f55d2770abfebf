import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { ApiError, api, must } from '../api/client';
import type { Dataset, JobCreate, Trainer } from '../api/types';
import { fieldErrors } from '../components/datasets/field-errors';
import { readStats } from '../components/datasets/model';
import { Page } from '../components/Page';
import { priceJob, readPricing, type Price } from '../components/newjob/pricing';
import { buildValue, initDraft, withDefaults, type Draft, type JsonSchema } from '../components/newjob/schema';
import { SchemaForm } from '../components/newjob/SchemaForm';
import { randomUUID } from '../components/newjob/uuid';
import { ErrorNote, Loading } from '../components/ui';
import { fmtCredits, fmtNumber } from '../lib/format';
import { useAsync } from '../lib/use-async';
import '../styles/newjob.css';

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

interface DatasetRule {
  kinds: string[];
  min_rows?: number;
  min_images?: number;
  max_images?: number;
  label_column_required?: boolean;
}

function datasetRule(t: Trainer | undefined): DatasetRule {
  const d = (t?.dataset ?? {}) as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return {
    kinds: Array.isArray(d.kinds) ? d.kinds.filter((k): k is string => typeof k === 'string') : [],
    min_rows: n(d.min_rows),
    min_images: n(d.min_images),
    max_images: n(d.max_images),
    label_column_required: d.label_column_required === true,
  };
}

/** Why a ready dataset of an accepted kind still cannot be trained on (the server's checks), or null. */
function unfit(rule: DatasetRule, d: Dataset): string | null {
  const s = (d.stats ?? {}) as Record<string, unknown>;
  const images = Number(s.image_count ?? 0);
  const rows = Number(s.row_count ?? s.example_count ?? s.conversation_count ?? 0);
  if (rule.min_images !== undefined && images < rule.min_images) return `needs at least ${rule.min_images} images`;
  if (rule.max_images !== undefined && images > rule.max_images) return `takes at most ${rule.max_images} images`;
  if (rule.min_rows !== undefined && rows < rule.min_rows) return `needs at least ${rule.min_rows} rows`;
  if (rule.label_column_required && !(d.options ?? {}).label_column) return 'has no label column';
  return null;
}

const modelNameFrom = (...parts: string[]) =>
  parts
    .join('-')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+/g, '-')
    .slice(0, 100);

/** All ready datasets (a few pages at most: a picker, not an archive). */
async function readyDatasets(): Promise<Dataset[]> {
  const out: Dataset[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 5; i++) {
    const p = await must(api.GET('/v1/datasets', { params: { query: { status: 'ready', limit: 200, ...(cursor ? { cursor } : {}) } } }));
    out.push(...(p.data ?? []));
    if (!p.next_cursor) break;
    cursor = p.next_cursor;
  }
  return out;
}

function TrainerOption({ t, value, onChange }: { t: Trainer; value: string; onChange: (id: string) => void }) {
  const id = `trainer-${t.id}`;
  const rule = datasetRule(t);
  return (
    <li className={`trainer-option${t.available ? '' : ' unavailable'}${value === t.id ? ' chosen' : ''}`}>
      <input
        type="radio"
        name="trainer"
        id={id}
        value={t.id}
        checked={value === t.id}
        disabled={!t.available}
        onChange={() => onChange(t.id!)}
        aria-describedby={`${id}-desc`}
      />
      <label htmlFor={id}>
        {t.title ?? t.id} <code>{t.id}</code>
      </label>
      <div id={`${id}-desc`} className="trainer-desc">
        <p className="help">{t.description}</p>
        <p className="help">
          Trains on {rule.kinds.join(' or ') || '—'}
          {t.base_models && t.base_models !== 'none' ? ` · from a base model (${t.base_models})` : ''}
          {t.supports_test_set ? ' · scores a test set' : ''}
        </p>
        {!t.available && (
          <p className="help unavailable-reason">
            <strong>Unavailable:</strong> {t.unavailable_reason ?? 'not set up on this server'}
          </p>
        )}
      </div>
    </li>
  );
}

/** The trainers as radio cards: those this server can run first, the others folded away with the reason each is unavailable. */
function TrainerPicker({ trainers, value, onChange }: { trainers: Trainer[]; value: string; onChange: (id: string) => void }) {
  const ready = trainers.filter((t) => t.available);
  const not = trainers.filter((t) => !t.available);
  return (
    <fieldset className="trainer-picker">
      <legend>Trainer</legend>
      {ready.length === 0 && <p className="notice">No trainer can run on this server now; the reasons are below.</p>}
      <ul>
        {ready.map((t) => (
          <TrainerOption key={t.id} t={t} value={value} onChange={onChange} />
        ))}
      </ul>
      {not.length > 0 && (
        <details className="unavailable-trainers" open={ready.length === 0}>
          <summary>
            {not.length} more trainer{not.length === 1 ? '' : 's'} unavailable on this server
          </summary>
          <ul>
            {not.map((t) => (
              <TrainerOption key={t.id} t={t} value={value} onChange={onChange} />
            ))}
          </ul>
        </details>
      )}
    </fieldset>
  );
}

function DatasetSelect({
  id,
  label,
  help,
  value,
  onChange,
  options,
  optional,
  error,
}: {
  id: string;
  label: string;
  help: string;
  value: string;
  onChange: (v: string) => void;
  options: { d: Dataset; why: string | null }[];
  optional: boolean;
  error?: string;
}) {
  return (
    <div>
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={`${id}-help${error ? ` ${id}-error` : ''}`}
        aria-invalid={error ? true : undefined}
      >
        <option value="">{optional ? 'None' : 'Choose a dataset…'}</option>
        {options.map(({ d, why }) => {
          const s = readStats(d.stats).size;
          return (
            <option key={d.id} value={d.id} disabled={why !== null}>
              {d.name} ({d.kind}
              {s ? `, ${fmtNumber(s.value)} ${s.unit}` : ''}){why ? ` — ${why}` : ''}
            </option>
          );
        })}
      </select>
      <p className="help" id={`${id}-help`}>
        {help}
      </p>
      {error && (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

/** The 402's words: what it costs, what there is, and where more comes from. */
function ShortOfCredits({ cost, balance }: { cost: number; balance: number }) {
  return (
    <>
      This job costs {fmtCredits(cost)}, you have {fmtNumber(balance)} available: ask an admin for credits or buy some on the{' '}
      <Link href="/credits">Credits page</Link>.
    </>
  );
}

export default function NewJob() {
  const [, navigate] = useLocation();
  const search = useSearch();
  const query = useMemo(() => new URLSearchParams(search), [search]);
  const trainers = useAsync(async () => (await must(api.GET('/v1/trainers'))).data?.filter((t) => t.kind !== 'inference') ?? [], []);
  const datasets = useAsync(readyDatasets, []);
  const balance = useAsync(() => must(api.GET('/v1/credits/balance')), []);

  const [trainerId, setTrainerId] = useState(query.get('trainer') ?? '');
  const [datasetId, setDatasetId] = useState(query.get('dataset') ?? '');
  const [validationId, setValidationId] = useState('');
  const [testId, setTestId] = useState('');
  const [baseModel, setBaseModel] = useState('');
  const [modelName, setModelName] = useState('');
  const [modelNameTouched, setModelNameTouched] = useState(false);
  const [draft, setDraft] = useState<Draft>({});
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const idem = useRef<{ key: string; body: string } | null>(null);

  const trainer = trainers.data?.find((t) => t.id === trainerId);
  const schema = (trainer?.hyperparameters ?? { type: 'object', properties: {} }) as JsonSchema;
  const rule = datasetRule(trainer);
  const dataset = datasets.data?.find((d) => d.id === datasetId);
  const prefilled = query.get('dataset');

  // A dataset named in the link with no trainer: the first available trainer that takes its kind.
  useEffect(() => {
    if (trainerId || !trainers.data || !dataset) return;
    const fit = trainers.data.find((t) => t.available && datasetRule(t).kinds.includes(dataset.kind!));
    if (fit) setTrainerId(fit.id!);
  }, [trainers.data, dataset, trainerId]);

  // A new trainer: its defaults, its default base model, nothing of the last one's choices.
  useEffect(() => {
    setDraft(initDraft(schema));
    setBaseModel(trainer?.default_base_model ?? '');
    setValidationId('');
    setTestId('');
    setError(undefined);
    setTried(false);
    setTouched(new Set());
    // Only when the trainer changes: its schema is part of it.
  }, [trainer?.id]);

  useEffect(() => {
    if (!modelNameTouched && trainer) setModelName(modelNameFrom(dataset?.name ?? 'model', trainer.id!));
  }, [trainer, dataset, modelNameTouched]);

  const baseModels = useAsync(
    async () =>
      trainer && trainer.base_models !== 'none'
        ? ((await must(api.GET('/v1/base-models', { params: { query: { trainer: trainer.id! } } }))).data ?? []).filter(
            (m) => m.trainers?.includes(trainer.id!) ?? true,
          )
        : [],
    [trainer?.id],
  );

  const fitting = (datasets.data ?? []).filter((d) => rule.kinds.includes(d.kind!)).map((d) => ({ d, why: unfit(rule, d) }));
  const sameKind = (datasets.data ?? []).filter((d) => d.id !== datasetId && dataset && d.kind === dataset.kind).map((d) => ({ d, why: null }));
  const takesValidation = !!schema.properties && 'validation_split' in schema.properties;

  const built = useMemo(() => buildValue(schema, draft), [schema, draft]);
  const serverErrors = fieldErrors(error);
  const hpErrors: Record<string, string> = {};
  for (const [p, m] of Object.entries(serverErrors)) if (p.startsWith('hyperparameters.')) hpErrors[p.slice('hyperparameters.'.length)] = m;
  // The form's own checks show at once for a field the person changed (or the fields inside a
  // fieldset they switched on), and for every field after a try.
  const shownHpErrors: Record<string, string> = { ...hpErrors };
  for (const [p, m] of Object.entries(built.errors)) {
    const near = [...touched].some((t) => {
      const base = t.split('#')[0]!;
      return p === base || p.startsWith(`${base}.`);
    });
    if (tried || near) shownHpErrors[p] = m;
  }

  const pricing = readPricing(trainer?.pricing);
  const price: Price | undefined = pricing
    ? priceJob(pricing, withDefaults(schema, built.value), Number(readStats(dataset?.stats).size?.value ?? 0))
    : undefined;
  const bal = balance.data;
  const billingOn = bal?.billing !== 'off';
  const short = billingOn && price && bal?.balance !== undefined && price.credits > bal.balance;

  const baseModelError =
    trainer?.base_models === 'required' && !baseModel
      ? 'Choose a base model.'
      : (serverErrors.base_model ?? (error instanceof ApiError && error.code.startsWith('BASE_MODEL') ? error.message : undefined));
  const datasetError = (tried && !datasetId ? 'Choose the dataset to train on.' : undefined) ?? serverErrors.dataset_id;
  const nameError =
    (tried && !MODEL_NAME.test(modelName) ? 'Use 1–100 letters, digits, "_", "." or "-", starting with a letter or digit.' : undefined) ??
    serverErrors['output.model_name'] ??
    (error instanceof ApiError && error.code.startsWith('MODEL_NAME') ? error.message : undefined);

  const change = (path: string, v: string | boolean) => {
    setDraft((d) => ({ ...d, [path]: v }));
    setTouched((t) => new Set(t).add(path));
    // A server's complaint about a field goes once the field changes.
    if (error instanceof ApiError && error.status === 400) setError(undefined);
  };

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setTried(true);
    if (!trainer || !trainer.available || !datasetId || !MODEL_NAME.test(modelName) || Object.keys(built.errors).length > 0) return;
    if (trainer.base_models === 'required' && !baseModel) return;
    const body: JobCreate = {
      trainer: trainer.id!,
      dataset_id: datasetId,
      // The document types a free object as Record<string, never>; the trainer's schema is the real type.
      hyperparameters: built.value as JobCreate['hyperparameters'],
      output: { model_name: modelName },
      ...(validationId ? { validation_dataset_id: validationId } : {}),
      ...(testId && trainer.supports_test_set ? { test_dataset_id: testId } : {}),
      ...(baseModel && trainer.base_models !== 'none' ? { base_model: baseModel } : {}),
    };
    // The same request again (a retry after a lost answer) keeps its key, so it cannot start twice.
    const json = JSON.stringify(body);
    if (idem.current?.body !== json) idem.current = { key: randomUUID(), body: json };
    setBusy(true);
    setError(undefined);
    try {
      const job = await must(api.POST('/v1/jobs', { params: { header: { 'idempotency-key': idem.current.key } }, body }));
      navigate(`/jobs/${encodeURIComponent(job.id!)}`);
    } catch (err) {
      setError(err);
      setBusy(false);
      if (err instanceof ApiError && err.status === 402) balance.reload();
    }
  };

  const insufficient = error instanceof ApiError && error.status === 402 ? (error.details as { cost?: number; balance?: number } | undefined) : undefined;
  const hasClientErrors = tried && (Object.keys(built.errors).length > 0 || !datasetId || !MODEL_NAME.test(modelName));

  if (trainers.data === undefined || datasets.data === undefined) {
    return (
      <Page title="New training job">
        {trainers.error || datasets.error ? <ErrorNote error={trainers.error ?? datasets.error} /> : <Loading what="Loading trainers and datasets" />}
      </Page>
    );
  }

  return (
    <Page title="New training job">
      <form className="stack new-job" onSubmit={submit} noValidate>
        <TrainerPicker trainers={trainers.data} value={trainerId} onChange={setTrainerId} />
        {!trainer && <p className="muted">Choose a trainer: its data, settings and price follow.</p>}

        {trainer && (
          <>
            <section className="card stack" aria-labelledby="data-title">
              <h2 id="data-title">Data</h2>
              {prefilled && dataset && !rule.kinds.includes(dataset.kind!) && (
                <p className="notice">
                  {dataset.name} is a {dataset.kind} dataset; {trainer.id} trains on {rule.kinds.join(' or ')}. Choose another trainer or dataset.
                </p>
              )}
              {prefilled && !dataset && <p className="notice">The dataset {prefilled} is not among your ready datasets.</p>}
              {fitting.length === 0 ? (
                <p className="notice">
                  You have no ready {rule.kinds.join(' or ')} dataset. <Link href="/datasets">Add one on the Datasets page</Link> (the samples are quickest).
                </p>
              ) : (
                <div className="grid">
                  <DatasetSelect
                    id="job-dataset"
                    label="Training dataset"
                    help={`Ready ${rule.kinds.join(' or ')} datasets.`}
                    value={fitting.some((f) => f.d.id === datasetId) ? datasetId : ''}
                    onChange={(v) => {
                      setDatasetId(v);
                      setValidationId('');
                      setTestId('');
                    }}
                    options={fitting}
                    optional={false}
                    error={datasetError}
                  />
                  {takesValidation && dataset && (
                    <DatasetSelect
                      id="job-validation"
                      label="Validation dataset (optional)"
                      help="Scored during training; without one, validation_split of the training data is held out."
                      value={validationId}
                      onChange={setValidationId}
                      options={sameKind.filter((o) => o.d.id !== testId)}
                      optional
                      error={serverErrors.validation_dataset_id}
                    />
                  )}
                  {trainer.supports_test_set && dataset && (
                    <DatasetSelect
                      id="job-test"
                      label="Test dataset (optional)"
                      help="Never trained on: scored once at the end (test accuracy, macro F1). Same columns as the training data."
                      value={testId}
                      onChange={setTestId}
                      options={sameKind.filter((o) => o.d.id !== validationId)}
                      optional
                      error={serverErrors.test_dataset_id ?? (error instanceof ApiError && error.code.startsWith('TEST_') ? error.message : undefined)}
                    />
                  )}
                </div>
              )}
              {trainer.base_models !== 'none' && (
                <div>
                  <label htmlFor="job-base-model">Base model{trainer.base_models === 'optional' ? ' (optional)' : ''}</label>
                  <select
                    id="job-base-model"
                    value={baseModel}
                    onChange={(e) => setBaseModel(e.target.value)}
                    aria-describedby={`job-base-model-help${tried && baseModelError ? ' job-base-model-error' : ''}`}
                    aria-invalid={tried && baseModelError ? true : undefined}
                  >
                    <option value="">{trainer.base_models === 'optional' ? 'None: train from scratch' : 'Choose a base model…'}</option>
                    {(baseModels.data ?? []).map((m) => (
                      <option key={m.id} value={m.id} disabled={!m.available}>
                        {m.name} ({m.id}){m.available ? '' : ' — not installed on this server'}
                      </option>
                    ))}
                  </select>
                  <p className="help" id="job-base-model-help">
                    {(baseModels.data ?? []).find((m) => m.id === baseModel)?.description ?? 'The pretrained model this trainer adapts.'}
                  </p>
                  {tried && baseModelError && (
                    <p className="field-error" id="job-base-model-error">
                      {baseModelError}
                    </p>
                  )}
                  <ErrorNote error={baseModels.error} />
                </div>
              )}
            </section>

            <section className="card" aria-labelledby="hp-title">
              <h2 id="hp-title">Hyperparameters</h2>
              <p className="help">Every field starts at the trainer&apos;s default; leave a field empty to use it.</p>
              <SchemaForm schema={schema} draft={draft} onChange={change} errors={shownHpErrors} />
              <p className="row">
                <button
                  type="button"
                  onClick={() => {
                    setDraft(initDraft(schema));
                    setTouched(new Set());
                  }}
                >
                  Reset to defaults
                </button>
              </p>
            </section>

            <section className="card" aria-labelledby="out-title">
              <h2 id="out-title">Output</h2>
              <label htmlFor="job-model-name">Model name</label>
              <input
                id="job-model-name"
                value={modelName}
                maxLength={100}
                required
                aria-describedby={`job-model-name-help${nameError ? ' job-model-name-error' : ''}`}
                aria-invalid={nameError ? true : undefined}
                onChange={(e) => {
                  setModelName(e.target.value);
                  setModelNameTouched(true);
                }}
              />
              <p className="help" id="job-model-name-help">
                The trained model is registered under this name; a name you already use gets a new version.
              </p>
              {nameError && (
                <p className="field-error" id="job-model-name-error">
                  {nameError}
                </p>
              )}
            </section>

            <section className="card price" aria-labelledby="price-title">
              <h2 id="price-title">Price</h2>
              <div role="status" aria-live="polite" data-testid="price">
                {!billingOn ? (
                  <p>Billing is off on this server: training costs nothing.</p>
                ) : price ? (
                  <p>
                    This job costs <strong>{fmtCredits(price.credits)}</strong> <span className="muted">({price.how})</span>.{' '}
                    {bal ? (
                      <>
                        Your balance: <strong>{fmtCredits(bal.balance)}</strong> available
                        {bal.held ? ` (${fmtCredits(bal.held)} held by running jobs)` : ''}.
                      </>
                    ) : null}
                  </p>
                ) : (
                  <p className="muted">The trainer states no price.</p>
                )}
                {short && price && bal && !insufficient && (
                  <p className="notice warn" data-testid="short-of-credits">
                    <ShortOfCredits cost={price.credits} balance={bal.balance ?? 0} />
                  </p>
                )}
              </div>
              <ErrorNote error={balance.error} title="Could not read your balance" />
            </section>

            {insufficient && (
              <div className="notice warn" role="alert" data-testid="insufficient">
                <ShortOfCredits cost={insufficient.cost ?? price?.credits ?? 0} balance={insufficient.balance ?? bal?.balance ?? 0} />
              </div>
            )}
            {hasClientErrors && (
              <p className="field-error" role="alert">
                Fix the fields marked above before starting.
              </p>
            )}
            <ErrorNote error={error} title="The job was not started" />
            <div className="row">
              <button type="submit" className="primary" disabled={busy || !trainer.available}>
                {busy ? 'Starting…' : price && billingOn ? `Start training (${fmtCredits(price.credits)})` : 'Start training'}
              </button>
              <Link href="/jobs">Cancel</Link>
            </div>
          </>
        )}
      </form>
    </Page>
  );
}

import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { ApiError, api, must } from '../api/client';
import type { JobCreate } from '../api/types';
import { fieldErrors } from '../components/datasets/field-errors';
import { readStats } from '../components/datasets/model';
import { Page } from '../components/Page';
import { BaseModelPicker } from '../components/newjob/BaseModelPicker';
import { DatasetPicker } from '../components/newjob/DatasetPicker';
import { ModelNameField } from '../components/newjob/ModelNameField';
import { InsufficientCredits, PriceNotice } from '../components/newjob/PriceNotice';
import { priceJob, readPricing, type Price } from '../components/newjob/pricing';
import { datasetRule, MODEL_NAME, modelNameFrom, readyDatasets } from '../components/newjob/rules';
import { buildValue, initDraft, withDefaults, type Draft, type JsonSchema } from '../components/newjob/schema';
import { SchemaForm } from '../components/newjob/SchemaForm';
import { TrainerPicker } from '../components/newjob/TrainerPicker';
import { randomUUID } from '../components/newjob/uuid';
import { ErrorNote, Loading } from '../components/ui';
import { fmtCredits } from '../lib/format';
import { useAsync } from '../lib/use-async';
import '../styles/newjob.css';

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
              <DatasetPicker
                trainer={trainer}
                rule={rule}
                datasets={datasets.data}
                prefilled={prefilled}
                datasetId={datasetId}
                validationId={validationId}
                testId={testId}
                onDataset={(v) => {
                  setDatasetId(v);
                  setValidationId('');
                  setTestId('');
                }}
                onValidation={setValidationId}
                onTest={setTestId}
                takesValidation={takesValidation}
                errors={{
                  dataset: datasetError,
                  validation: serverErrors.validation_dataset_id,
                  test: serverErrors.test_dataset_id ?? (error instanceof ApiError && error.code.startsWith('TEST_') ? error.message : undefined),
                }}
              />
              {trainer.base_models !== 'none' && (
                <BaseModelPicker trainer={trainer} value={baseModel} onChange={setBaseModel} error={tried ? baseModelError : undefined} />
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

            <ModelNameField
              value={modelName}
              onChange={(v) => {
                setModelName(v);
                setModelNameTouched(true);
              }}
              error={nameError}
            />

            <PriceNotice price={price} bal={bal} balanceError={balance.error} refused={!!insufficient} />

            {insufficient && <InsufficientCredits cost={insufficient.cost ?? price?.credits ?? 0} balance={insufficient.balance ?? bal?.balance ?? 0} />}
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

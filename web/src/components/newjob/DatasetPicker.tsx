import { Link } from 'wouter';
import type { Dataset, Trainer } from '../../api/types';
import { fmtNumber } from '../../lib/format';
import { readStats } from '../datasets/model';
import { unfit, type DatasetRule } from './rules';

type Choice = { d: Dataset; why: string | null };

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
  options: Choice[];
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

/**
 * The training dataset (ready ones of the trainer's kinds, the unfit ones disabled with the reason)
 * and, once one is chosen, the optional validation and test datasets of the same kind.
 */
export function DatasetPicker({
  trainer,
  rule,
  datasets,
  prefilled,
  datasetId,
  validationId,
  testId,
  onDataset,
  onValidation,
  onTest,
  takesValidation,
  errors,
}: {
  trainer: Trainer;
  rule: DatasetRule;
  datasets: Dataset[];
  /** The dataset named in the page's link, if any. */
  prefilled: string | null;
  datasetId: string;
  validationId: string;
  testId: string;
  onDataset: (id: string) => void;
  onValidation: (id: string) => void;
  onTest: (id: string) => void;
  takesValidation: boolean;
  errors: { dataset?: string | undefined; validation?: string | undefined; test?: string | undefined };
}) {
  const dataset = datasets.find((d) => d.id === datasetId);
  const fitting: Choice[] = datasets.filter((d) => rule.kinds.includes(d.kind!)).map((d) => ({ d, why: unfit(rule, d) }));
  const sameKind: Choice[] = datasets.filter((d) => d.id !== datasetId && dataset && d.kind === dataset.kind).map((d) => ({ d, why: null }));
  return (
    <>
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
            onChange={onDataset}
            options={fitting}
            optional={false}
            error={errors.dataset}
          />
          {takesValidation && dataset && (
            <DatasetSelect
              id="job-validation"
              label="Validation dataset (optional)"
              help="Scored during training; without one, validation_split of the training data is held out."
              value={validationId}
              onChange={onValidation}
              options={sameKind.filter((o) => o.d.id !== testId)}
              optional
              error={errors.validation}
            />
          )}
          {trainer.supports_test_set && dataset && (
            <DatasetSelect
              id="job-test"
              label="Test dataset (optional)"
              help="Never trained on: scored once at the end (test accuracy, macro F1). Same columns as the training data."
              value={testId}
              onChange={onTest}
              options={sameKind.filter((o) => o.d.id !== validationId)}
              optional
              error={errors.test}
            />
          )}
        </div>
      )}
    </>
  );
}

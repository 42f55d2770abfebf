import { api, must } from '../../api/client';
import type { Trainer } from '../../api/types';
import { useAsync } from '../../lib/use-async';
import { ErrorNote } from '../ui';

/** The pretrained model a trainer adapts (for trainers that take one), from the base models it lists. */
export function BaseModelPicker({
  trainer,
  value,
  onChange,
  error,
}: {
  trainer: Trainer;
  value: string;
  onChange: (id: string) => void;
  /** Shown once the person tried to start the job. */
  error: string | undefined;
}) {
  const baseModels = useAsync(
    async () =>
      ((await must(api.GET('/v1/base-models', { params: { query: { trainer: trainer.id! } } }))).data ?? []).filter(
        (m) => m.trainers?.includes(trainer.id!) ?? true,
      ),
    [trainer.id],
  );
  return (
    <div>
      <label htmlFor="job-base-model">Base model{trainer.base_models === 'optional' ? ' (optional)' : ''}</label>
      <select
        id="job-base-model"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={`job-base-model-help${error ? ' job-base-model-error' : ''}`}
        aria-invalid={error ? true : undefined}
      >
        <option value="">{trainer.base_models === 'optional' ? 'None: train from scratch' : 'Choose a base model…'}</option>
        {(baseModels.data ?? []).map((m) => (
          <option key={m.id} value={m.id} disabled={!m.available}>
            {m.name} ({m.id}){m.available ? '' : ' — not installed on this server'}
          </option>
        ))}
      </select>
      <p className="help" id="job-base-model-help">
        {(baseModels.data ?? []).find((m) => m.id === value)?.description ?? 'The pretrained model this trainer adapts.'}
      </p>
      {error && (
        <p className="field-error" id="job-base-model-error">
          {error}
        </p>
      )}
      <ErrorNote error={baseModels.error} />
    </div>
  );
}

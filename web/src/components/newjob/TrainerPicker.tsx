import type { Trainer } from '../../api/types';
import { datasetRule } from './rules';

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
export function TrainerPicker({ trainers, value, onChange }: { trainers: Trainer[]; value: string; onChange: (id: string) => void }) {
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

import { useEffect, useId, useState, type FormEvent } from 'react';
import { ApiError, api, must } from '../../api/client';
import type { Ok } from '../../api/types';
import { ErrorNote, ProgressBar } from '../ui';

type Generation = Ok<'/v1/generations/{id}', 'get'>;

const DONE = ['succeeded', 'failed', 'cancelled'];
const POLL_MS = 1000;

/** An image from a LoRA model: POST /v1/generations, then its state until it is done, then the image. */
export function GeneratePanel({ model, triggerWord }: { model: string; triggerWord: string | null | undefined }) {
  const id = useId();
  const [prompt, setPrompt] = useState(`a photo of ${triggerWord || 'sks'}`);
  const [steps, setSteps] = useState('10');
  const [seed, setSeed] = useState('');
  const [gen, setGen] = useState<Generation>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  // Follow the generation until it ends (a plain poll: a generation takes seconds). A failed
  // look is shown and tried again, more slowly each time; one that is gone (404) is not.
  const [misses, setMisses] = useState(0);
  useEffect(() => {
    if (!gen?.id || DONE.includes(gen.status ?? '')) return;
    let on = true;
    const t = setTimeout(
      () => {
        must(api.GET('/v1/generations/{id}', { params: { path: { id: gen.id! } } })).then(
          (g) => {
            if (!on) return;
            setGen(g);
            setError(undefined);
            setMisses(0);
          },
          (e: unknown) => {
            if (!on) return;
            setError(e);
            if (!(e instanceof ApiError && [401, 403, 404].includes(e.status))) setMisses((m) => m + 1);
          },
        );
      },
      POLL_MS * Math.min(2 ** misses, 16),
    );
    return () => {
      on = false;
      clearTimeout(t);
    };
  }, [gen, misses]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setGen(undefined);
    try {
      const body = { model, prompt, steps: Number(steps) || 10, ...(seed.trim() !== '' ? { seed: Number(seed) } : {}) };
      setGen(await must(api.POST('/v1/generations', { body })));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const running = !!gen && !DONE.includes(gen.status ?? '');
  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Generate an image</h3>
      <div>
        <label htmlFor={`${id}-p`}>Prompt</label>
        <input id={`${id}-p`} value={prompt} onChange={(e) => setPrompt(e.target.value)} required maxLength={1000} style={{ width: '100%' }} />
      </div>
      <div className="inline-form">
        <div>
          <label htmlFor={`${id}-s`}>Steps</label>
          <input id={`${id}-s`} type="number" min={1} max={150} value={steps} onChange={(e) => setSteps(e.target.value)} />
        </div>
        <div>
          <label htmlFor={`${id}-seed`}>Seed (optional)</label>
          <input id={`${id}-seed`} type="number" min={0} value={seed} onChange={(e) => setSeed(e.target.value)} />
        </div>
      </div>
      <p>
        <button type="submit" className="primary" disabled={busy || running}>
          {running ? 'Generating…' : 'Generate'}
        </button>
      </p>
      <ErrorNote error={error} />
      <div role="status" aria-live="polite" data-testid="generation" data-status={gen?.status ?? ''}>
        {gen && running && (
          <ProgressBar value={gen.progress?.fraction ?? null} label="Generating" detail={gen.status === 'queued' ? 'waiting in the queue' : 'generating'} />
        )}
        {gen?.status === 'failed' && (
          <p className="error">
            The generation failed: {gen.error?.message} {gen.error?.code && <code>({gen.error.code})</code>}
          </p>
        )}
        {gen?.status === 'cancelled' && <p className="notice">The generation was cancelled.</p>}
        {gen?.status === 'succeeded' && gen.image_url && (
          <figure className="generated">
            <img src={gen.image_url} alt={`Generated: ${gen.prompt}`} />
            <figcaption>
              Seed {gen.seed} · {gen.steps} steps{gen.inference_time_s != null ? ` · ${gen.inference_time_s.toFixed(1)} s` : ''} · {gen.cost} credit
              {gen.cost === 1 ? '' : 's'}
            </figcaption>
          </figure>
        )}
      </div>
    </form>
  );
}

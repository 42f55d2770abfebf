import { useState } from 'react';
import { Link } from 'wouter';
import { api, ApiError, must } from '../api/client';
import type { Model } from '../api/types';
import { Aliases } from '../components/models/Aliases';
import { Downloads } from '../components/models/Downloads';
import { GeneratePanel } from '../components/models/GeneratePanel';
import { ModelSettings } from '../components/models/ModelSettings';
import { PlaygroundFor } from '../components/models/PlaygroundFor';
import { VersionsTable } from '../components/models/VersionsTable';
import { Page } from '../components/Page';
import { Badge, ErrorNote, Loading } from '../components/ui';
import { fmtDate } from '../lib/format';
import { useAsync } from '../lib/use-async';
import '../styles/jobs.css';

export default function ModelDetail({ name }: { name: string }) {
  const model = useAsync(() => must(api.GET('/v1/models/{name}', { params: { path: { name } } })), [name]);
  if (!model.data) {
    const notFound = model.error instanceof ApiError && model.error.status === 404;
    return (
      <Page title={notFound ? 'Model not found' : name}>
        {model.error ? <ErrorNote error={model.error} /> : <Loading what="Loading the model" />}
        {!!model.error && (
          <p>
            <Link href="/models">Back to your models</Link>
          </p>
        )}
      </Page>
    );
  }
  return <ModelView key={name} model={model.data} set={model.set} />;
}

function ModelView({ model, set }: { model: Model; set: (m: Model) => void }) {
  const name = model.name!;
  const [tick, setTick] = useState(0);
  const versions = useAsync(async () => (await must(api.GET('/v1/models/{name}/versions', { params: { path: { name } } }))).data ?? [], [name, tick]);
  // The model's training jobs: lineage (from_model) and what each version expects as input.
  const jobs = useAsync(async () => {
    const page = await must(api.GET('/v1/jobs', { params: { query: { model_name: name, limit: 100 } } }));
    return new Map((page.data ?? []).map((j) => [j.id!, j]));
  }, [name]);
  const trainer = useAsync(() => must(api.GET('/v1/trainers/{id}', { params: { path: { id: model.trainer! } } })), [model.trainer]);
  const task = trainer.data?.task;
  const vs = versions.data ?? [];
  const changed = (m: Model) => {
    set(m);
    setTick((t) => t + 1);
  };

  return (
    <Page title={name}>
      <dl className="facts">
        <dt>Trainer</dt>
        <dd>{model.trainer}</dd>
        <dt>Visibility</dt>
        <dd>
          <Badge status={model.visibility ?? 'private'} />
        </dd>
        <dt>Versions</dt>
        <dd>{model.version_count}</dd>
        <dt>Primary metric</dt>
        <dd>{model.primary_metric ? `${model.primary_metric} (${model.metric_goal ?? 'maximize'})` : '—'}</dd>
        <dt>Created</dt>
        <dd>{fmtDate(model.created_at)}</dd>
        {model.description && (
          <>
            <dt>Description</dt>
            <dd>{model.description}</dd>
          </>
        )}
      </dl>

      <section aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        <ErrorNote error={versions.error ?? jobs.error} />
        {versions.data ? vs.length ? <VersionsTable model={model} versions={vs} jobs={jobs.data ?? new Map()} /> : <p>No versions yet.</p> : <Loading />}
      </section>

      <div className="grid">
        <Aliases model={model} versions={vs} onChange={changed} />
        <ModelSettings model={model} versions={vs} onChange={changed} />
      </div>

      {vs.length > 0 && <Downloads model={name} versions={vs} />}

      {vs.length > 0 && task?.endsWith('-classification') && task !== 'video-classification' && (
        <section aria-labelledby="play-h">
          <h2 id="play-h">Prediction playground</h2>
          <PlaygroundFor model={model} versions={vs} jobs={jobs.data} task={task} />
        </section>
      )}
      {vs.length > 0 && task === 'text-to-image-lora' && (
        <section aria-labelledby="gen-h">
          <h2 id="gen-h">Image generation</h2>
          <GeneratePanel model={name} triggerWord={model.trigger_word} />
        </section>
      )}
    </Page>
  );
}

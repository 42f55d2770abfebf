import { useMemo } from 'react';
import { api, must } from '../../api/client';
import type { Job, Model } from '../../api/types';
import { useAsync } from '../../lib/use-async';
import { Loading } from '../ui';
import { inputShape, Playground } from './Playground';
import type { Version } from './VersionsTable';

/** The versions the playground offers: the aliases (best first), then every version by number. */
function versionChoices(model: Model, versions: Version[]) {
  const aliases = Object.entries(model.aliases ?? {}).sort(([a], [b]) => (a === 'best' ? -1 : b === 'best' ? 1 : a.localeCompare(b)));
  return [...aliases.map(([a, v]) => ({ value: a, label: `${a} (v${v})` })), ...versions.map((v) => ({ value: String(v.version), label: `v${v.version}` }))];
}

/** The playground for the version chosen first (best, else latest), prefilled from its job's result. */
export function PlaygroundFor({ model, versions, jobs, task }: { model: Model; versions: Version[]; jobs: Map<string, Job> | undefined; task: string }) {
  const choices = versionChoices(model, versions);
  const first = choices[0]?.value;
  const number = first && /^\d+$/.test(first) ? Number(first) : model.aliases?.[first ?? ''];
  const v = versions.find((x) => x.version === number) ?? versions[0];
  const jobId = typeof v?.job_id === 'string' ? v.job_id : null;
  // Older jobs than the page of 100: read that one job.
  const job = useAsync(
    async () => (jobId ? (jobs?.get(jobId) ?? (await must(api.GET('/v1/jobs/{id}', { params: { path: { id: jobId } } })))) : null),
    [jobId, jobs],
  );
  const details = (job.data?.result as { details?: Record<string, unknown> } | null | undefined)?.details;
  const shape = useMemo(() => inputShape(task, details), [task, details]);
  if (job.loading && !job.data) return <Loading what="Reading what the model expects" />;
  return <Playground key={JSON.stringify(shape)} model={model.name!} versions={choices} shape={shape} />;
}

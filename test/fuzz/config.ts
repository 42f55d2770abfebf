import type { SeededUser } from './seed.js';

/** A TOML string or array of strings (JSON's escapes are TOML's). */
const toml = (v: string | string[]) => JSON.stringify(v);

/**
 * schemathesis.toml for the run. Each path id of an operation is, most of the time, a real id
 * of the right kind: user A's (the caller's: the happy path) or user B's (another owner's: must
 * be 404 like an unknown id). The rest of the time it is generated, as are all other fields.
 */
export function fuzzConfig(a: SeededUser, b: SeededUser, baseModels: string[]): string {
  const both = (k: keyof SeededUser['ids']) => [a.ids[k], b.ids[k]].flat();
  // owner/name reaches another user's model when it is public, and must be 404 when it is not.
  const models = [...a.ids.models, ...b.ids.models, 'fuzz-b/fuzz-b-model'];
  const dictionaries: Record<string, string[]> = {
    jobs: both('jobs'),
    datasets: both('datasets'),
    files: both('files'),
    sweeps: both('sweeps'),
    webhooks: both('webhooks'),
    apikeys: both('apiKeys'),
    models,
    versions: ['1', 'latest', 'best', 'stable', '2'],
    aliases: ['stable', 'latest', 'best', 'candidate'],
    artifacts: ['model', 'missing'],
    trainers: ['echo', 'crash', 'linear-classifier', 'nope'],
    users: [a.ids.user, b.ids.user, 'fuzz-a', 'fuzz-b'],
    basemodels: baseModels.length ? baseModels : ['none'],
  };
  // [path regex, parameter → dictionary]
  const bindings: Array<[string, Record<string, string>]> = [
    ['^/v1/jobs/', { 'path.id': 'jobs' }],
    ['^/v1/generations/', { 'path.id': 'jobs' }],
    ['^/v1/datasets/', { 'path.id': 'datasets' }],
    ['^/v1/(files|uploads)/', { 'path.id': 'files' }],
    ['^/v1/sweeps/', { 'path.id': 'sweeps' }],
    ['^/v1/webhooks/', { 'path.id': 'webhooks' }],
    ['^/v1/api-keys/', { 'path.id': 'apikeys' }],
    ['^/v1/trainers/', { 'path.id': 'trainers' }],
    ['^/v1/(admin/)?base-models/', { 'path.id': 'basemodels' }],
    ['^/v1/models/', { 'path.name': 'models', 'path.v': 'versions', 'path.alias': 'aliases', 'path.artifact': 'artifacts' }],
  ];
  const out: string[] = [];
  for (const [name, values] of Object.entries(dictionaries)) out.push(`[dictionaries.${name}]`, `values = ${toml(values)}`, '');
  // Bodies that name a dataset or trainer get real ones often enough to create jobs and sweeps.
  out.push(
    '[parameters]',
    `"body.dataset_id" = { dictionary = "datasets", probability = 0.5 }`,
    `"body.test_dataset_id" = { dictionary = "datasets", probability = 0.5 }`,
    `"body.trainer" = { dictionary = "trainers", probability = 0.5 }`,
    `"body.user_id" = { dictionary = "users", probability = 0.5 }`,
    '',
  );
  for (const [regex, params] of bindings) {
    out.push('[[operations]]', `include-path-regex = ${toml(regex)}`);
    const inline = Object.entries(params).map(([k, d]) => `${toml(k)} = { dictionary = ${toml(d)}, probability = 0.8 }`);
    out.push(`parameters = { ${inline.join(', ')} }`, '');
  }
  return out.join('\n');
}

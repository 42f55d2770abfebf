import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Executor } from './executor.js';
import type { RemoteDeps } from './remote.js';

/**
 * The executor EXECUTOR names when it is a cluster's; null for the local one. Each cluster's
 * client is imported only when it is chosen: @kubernetes/client-node alone took ~0.4 s of every
 * start-up when runtime.ts imported it statically, half of loading the whole server (issue #15,
 * target 6), and a server on the embedded defaults never uses it.
 * test/unit/launcher-imports.test.ts checks that `serve` on the defaults loads neither client.
 */
export async function clusterExecutor(config: Config, remote: RemoteDeps, log: Logger): Promise<Executor | null> {
  const e = config.worker.executor;
  if (e.kind === 'local') return null;
  if (e.kind === 'kubernetes') {
    const { KubernetesExecutor, kubeConfig } = await import('./kubernetes/executor.js');
    return new KubernetesExecutor(kubeConfig(e.kubeconfig), e, remote, log);
  }
  const [{ SlurmExecutor }, { isKnownVersion, SlurmRestClient }, { signSlurmToken }] = await Promise.all([
    import('./slurm/executor.js'),
    import('./slurm/rest.js'),
    import('./slurm/token.js'),
  ]);
  const token = e.jwt ? () => e.jwt! : async () => signSlurmToken({ key: new Uint8Array(await readFile(e.jwtKeyFile!)), userName: e.user, lifespanS: 600 });
  const connect = () =>
    SlurmRestClient.connect({ url: e.url, userName: e.user, token, ...(e.version && isKnownVersion(e.version) ? { version: e.version } : {}) });
  const { partition, ...rest } = e;
  return new SlurmExecutor(connect, { ...rest, ...(partition ? { partition } : {}) }, remote);
}

import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlurmRestClient } from '../../src/executors/slurm/rest.js';
import { clusterProcesses, startSlurmCluster } from '../helpers/slurm-cluster.js';
import { until, waitFor } from '../helpers/wait.js';

// The harness itself, on a second cluster beside the run's one: it starts from nothing, and
// stop() leaves nothing behind — no daemon, no job step, no job process, no folder — even with a
// job still running; and a cluster can be started again after one was stopped.

describe('slurm test cluster', () => {
  it('stops every daemon and job process, removes its folder, and starts again', async () => {
    for (let round = 1; round <= 2; round++) {
      const cluster = await startSlurmCluster();
      let stopped = false;
      try {
        const client = await SlurmRestClient.connect({ url: cluster.url, userName: cluster.userName, token: cluster.token });
        expect(client.version).toBe(cluster.version);
        const { jobId } = await client.submit({
          name: 'ty-left-running',
          script: '#!/bin/bash\ntouch started\nsleep 300\n',
          workingDirectory: cluster.jobsDir,
          environment: { PATH: '/usr/bin:/bin' },
          cpusPerTask: 1,
        });
        await until(() => existsSync(path.join(cluster.jobsDir, 'started')), { timeoutMs: 20_000, message: `job ${jobId} to start` });
        // munged, slurmctld, slurmd, slurmrestd, slurmstepd, bash and sleep at least.
        expect(clusterProcesses(cluster.dir).length).toBeGreaterThanOrEqual(7);
        await cluster.stop();
        stopped = true;
        expect(clusterProcesses(cluster.dir)).toEqual([]);
        expect(existsSync(cluster.dir)).toBe(false);
        // Nothing listens on its port any more.
        await waitFor(
          () =>
            fetch(cluster.url).then(
              () => 'up',
              () => 'down',
            ),
          (s) => s === 'down',
          { timeoutMs: 5_000, message: 'slurmrestd to be gone' },
        );
      } finally {
        if (!stopped) await cluster.stop();
      }
    }
  });
});

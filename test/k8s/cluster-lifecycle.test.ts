import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startK8sCluster } from '../helpers/k8s-cluster.js';
import { alive } from '../helpers/k8s-processes.js';

// The test cluster cleans up after itself: a second, throwaway control plane started and
// stopped here leaves no daemon running and no folder behind (the run's own cluster is stopped
// the same way by the globalSetup teardown, which throws if any of its daemons survives).

it('stop() ends all five daemons and removes the cluster folder', async () => {
  const cluster = await startK8sCluster();
  const pids = Object.entries(cluster.pids);
  try {
    expect(pids.map(([name]) => name).sort()).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);
    for (const [, pid] of pids) expect(alive(pid)).toBe(true);
  } finally {
    await cluster.stop();
  }
  expect(pids.filter(([, pid]) => alive(pid))).toEqual([]);
  expect(existsSync(cluster.dir)).toBe(false);
}, 120_000);

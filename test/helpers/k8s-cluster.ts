import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { makePki, writeKubeconfig } from './k8s-pki.js';
import { get, k8sBinDir, startDaemon, stopAll, type Daemon } from './k8s-processes.js';
import { freePort } from './pg-programs.js';
import { waitFor } from './wait.js';

// A real Kubernetes control plane on loopback for the k8s test project: etcd, kube-apiserver
// (client certificates, RBAC), kube-controller-manager (Job, garbage collector, node lifecycle,
// service accounts, …), kube-scheduler, and kwok standing in for one GPU node. Pods on that node
// "run" through the stages in test/fixtures/k8s/kwok-stages.yaml, driven by pod annotations.
// Two identities: the admin (system:masters) that sets the cluster up, and `trainyard-executor`,
// a plain user with a Role in one namespace only: what a Kubernetes executor is given.

/** What tests get (via inject('k8s')) to reach the cluster. */
export interface K8sClusterInfo {
  server: string;
  /** system:masters: for setup and for looking at what the executor may not see (nodes). */
  adminKubeconfig: string;
  /** The executor's identity: RBAC allows it Jobs, Pods, Secrets, Events in `namespace` only. */
  executorKubeconfig: string;
  namespace: string;
  gpuNode: string;
  gpuProduct: string;
  pids: Record<string, number>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    k8s: K8sClusterInfo;
  }
}

export const GPU_NODE = 'gpu-node-1';
export const GPU_PRODUCT = 'FAKE-H100';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
/** kwok's fake nodes carry this taint: only pods that tolerate it land there. */
export const KWOK_TAINT = { key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' } as const;
const NAMESPACE = 'trainyard-jobs';
const STAGES = path.resolve('test/fixtures/k8s/kwok-stages.yaml');

export interface K8sCluster extends K8sClusterInfo {
  dir: string;
  stop(): Promise<void>;
}

export async function startK8sCluster(opts: { binDir?: string; timeoutMs?: number } = {}): Promise<K8sCluster> {
  const bin = opts.binDir ?? k8sBinDir();
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'trainyard-k8s-'));
  const daemons: Daemon[] = [];
  const stop = async () => {
    try {
      await stopAll(daemons);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const info = await boot(dir, bin, daemons, timeoutMs);
    return { ...info, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function boot(dir: string, bin: string, daemons: Daemon[], timeoutMs: number): Promise<K8sClusterInfo> {
  const ports: number[] = [];
  while (ports.length < 5) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const [etcdPort, peerPort, apiPort, kcmPort, schedPort] = ports as [number, number, number, number, number];
  const pki = makePki(dir);
  const server = `https://127.0.0.1:${apiPort}`;
  const kc = (name: string, user: string, groups?: string[]) =>
    writeKubeconfig(path.join(dir, `${name}.kubeconfig`), server, pki.caCert, pki.client(name, { user, groups }));
  const adminKubeconfig = kc('admin', 'trainyard-admin', ['system:masters']);
  const executorKubeconfig = writeKubeconfig(
    path.join(dir, 'executor.kubeconfig'),
    server,
    pki.caCert,
    pki.client('executor', { user: 'trainyard-executor' }),
    NAMESPACE,
  );
  const kcmKubeconfig = kc('kcm', 'system:kube-controller-manager');
  const schedKubeconfig = kc('scheduler', 'system:kube-scheduler');
  const kwokKubeconfig = kc('kwok', 'kwok', ['system:masters']);
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1_000, deadline - Date.now());

  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = startDaemon(dir, bin, 'etcd', [
    '--name=default',
    `--data-dir=${path.join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    // The data dies with the run: no fsync keeps two busy cores from stalling the API server.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  daemons.push(etcd);
  await waitFor(
    async () => (etcd.check(), await get(`${etcdUrl}/health`)),
    (r) => r.status === 200 && r.body.includes('"health":"true"'),
    { timeoutMs: left(), intervalMs: 100, message: 'etcd /health' },
  );

  const api = startDaemon(dir, bin, 'kube-apiserver', [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.serving.cert}`,
    `--tls-private-key-file=${pki.serving.key}`,
    `--client-ca-file=${pki.caCert}`,
    '--authorization-mode=Node,RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    // Never routed: no kube-proxy runs, and Services are no part of what is tested.
    '--service-cluster-ip-range=10.96.0.0/24',
    // A loopback address may not stand in the `kubernetes` Service's endpoints.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ]);
  daemons.push(api);
  const ca = readFileSync(pki.caCert);
  await waitFor(
    async () => (api.check(), await get(`${server}/readyz`, ca)),
    (r) => r.status === 200,
    { timeoutMs: left(), intervalMs: 200, message: 'kube-apiserver /readyz' },
  );

  const common = (kubeconfig: string, port: number, name: string) => [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${path.join(dir, `${name}-certs`)}`,
    '--leader-elect=false',
  ];
  const kcm = startDaemon(dir, bin, 'kube-controller-manager', [
    ...common(kcmKubeconfig, kcmPort, 'kcm'),
    '--controllers=*',
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
  ]);
  const sched = startDaemon(dir, bin, 'kube-scheduler', common(schedKubeconfig, schedPort, 'scheduler'));
  const stages = path.join(dir, 'kwok-stages.yaml');
  copyFileSync(STAGES, stages);
  const kwok = startDaemon(dir, bin, 'kwok', [
    `--kubeconfig=${kwokKubeconfig}`,
    `--config=${stages}`,
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    // Status only: nothing connects to a fake node, and if anything tried it would stay on loopback.
    '--node-ip=127.0.0.1',
  ]);
  daemons.push(kcm, sched, kwok);

  const admin = new KubeConfig();
  admin.loadFromFile(adminKubeconfig);
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await grantExecutor(admin.makeApiClient(RbacAuthorizationV1Api));
  await core.createNode({ body: gpuNode() });

  const checkAll = () => daemons.forEach((d) => d.check());
  for (const [name, port, p] of [
    ['kube-controller-manager', kcmPort, '/healthz'],
    ['kube-scheduler', schedPort, '/readyz'],
  ] as const) {
    await waitFor(
      async () => (checkAll(), await get(`https://127.0.0.1:${port}${p}`)),
      (r) => r.status === 200,
      { timeoutMs: left(), intervalMs: 200, message: `${name} ${p}` },
    );
  }
  // Ready for a Job once the service-account controller has made the namespace's `default`
  // account (pods are refused without it) and the node is Ready with no taint but kwok's (the
  // node lifecycle controller lifts `not-ready` once kwok reports Ready).
  await waitFor(
    async () => (checkAll(), (await core.listNamespacedServiceAccount({ namespace: NAMESPACE })).items.map((s) => s.metadata?.name)),
    (names) => names.includes('default'),
    { timeoutMs: left(), intervalMs: 200, message: `the ${NAMESPACE}/default service account` },
  );
  await waitFor(
    async () => (checkAll(), await core.readNode({ name: GPU_NODE })),
    (n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && (n.spec?.taints ?? []).every((t) => t.key === KWOK_TAINT.key),
    { timeoutMs: left(), intervalMs: 200, message: `node ${GPU_NODE} Ready and untainted` },
  );

  const pids = Object.fromEntries(daemons.map((d) => [d.name, d.pid]));
  writeFileSync(path.join(dir, 'pids.json'), JSON.stringify(pids));
  return { server, adminKubeconfig, executorKubeconfig, namespace: NAMESPACE, gpuNode: GPU_NODE, gpuProduct: GPU_PRODUCT, pids };
}

/** One fake GPU node: kwok manages it (annotation), the scheduler sees its GPU (capacity). */
function gpuNode() {
  const resources = { cpu: '32', memory: '256Gi', pods: '110', 'nvidia.com/gpu': '1' };
  return {
    metadata: {
      name: GPU_NODE,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': GPU_NODE, 'kubernetes.io/os': 'linux', type: 'kwok', [GPU_PRODUCT_LABEL]: GPU_PRODUCT },
    },
    spec: { taints: [{ ...KWOK_TAINT }] },
    // Nodes are the one kind whose status a create may set: kwok keeps what it finds here.
    status: { capacity: resources, allocatable: resources },
  };
}

/** The executor's rights: its namespace's Jobs, Pods (and evictions, logs), Secrets, Events. */
async function grantExecutor(rbac: RbacAuthorizationV1Api) {
  const verbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
  await rbac.createNamespacedRole({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'trainyard-executor' },
      rules: [
        { apiGroups: ['batch'], resources: ['jobs'], verbs },
        { apiGroups: [''], resources: ['pods', 'secrets'], verbs },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
        { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: NAMESPACE,
    body: {
      metadata: { name: 'trainyard-executor' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'trainyard-executor' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'trainyard-executor' }],
    },
  });
}

/** globalSetup of the `k8s` project: one cluster for the run; its teardown proves no daemon is left. */
export default async function setup(project: TestProject) {
  const started = Date.now();
  const cluster = await startK8sCluster();
  console.warn(`k8s test cluster ready in ${Date.now() - started} ms at ${cluster.server}`);
  const { stop, dir: _dir, ...info } = cluster;
  project.provide('k8s', info);
  return stop;
}

import { defineConfig } from 'vitest/config';

// Two database projects run the same files: every database test proves itself on PGlite
// (the embedded default) and on a throwaway real Postgres cluster started by globalSetup.
// Whatever trains a real model runs once, in a later group of its own: `trainers` (the
// built-in tfjs trainers) and then `python` (the PyTorch packs). Groups run one after the
// other (sequence.groupOrder), so a training run never competes for the cores with the
// lease- and timing-sensitive database tests, nor with the other kind of training.
// The files that store, read, sign or delete blobs: the s3 project runs them on S3 too.
const S3_FILES = [
  'test/db/files.test.ts',
  'test/db/uploads-hardening.test.ts',
  'test/db/upload-purge.test.ts',
  'test/db/datasets.test.ts',
  'test/db/dataset-integrity.test.ts',
  'test/db/job-samples.test.ts',
  'test/db/models-serving.test.ts',
  'test/db/ops.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    // The JSON report gives .ci/run its closing "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'pglite',
          include: ['test/db/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite' },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/db/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'postgres' },
          globalSetup: ['test/helpers/postgres-cluster.ts'],
        },
      },
      {
        extends: true,
        // The storage-facing files again with S3 as the store (a fresh bucket per test app on one
        // SeaweedFS for the run), as the database files run on both databases; plus the BlobStore
        // contract, which runs against both stores. On PGlite: the database is proven above.
        test: {
          name: 's3',
          include: [...S3_FILES, 'test/storage/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite', TRAINYARD_TEST_STORE: 's3' },
          globalSetup: ['test/helpers/s3-server.ts'],
        },
      },
      {
        extends: true,
        // The Kubernetes contract the k8s executor relies on, against a real control plane
        // (etcd, kube-apiserver, controller manager, scheduler) with kwok as the GPU node,
        // built from Go modules by scripts/k8s-binaries.sh and cached; one cluster for the run.
        // No database: these talk to the API server only.
        test: {
          name: 'k8s',
          include: ['test/k8s/**/*.test.ts'],
          globalSetup: ['test/helpers/k8s-cluster.ts'],
          // One file at a time: the lifecycle file starts a second control plane, and two on
          // two cores would only stretch each other's waits.
          fileParallelism: false,
          hookTimeout: 120_000,
          testTimeout: 60_000,
          // vitest runs every project's globalSetup before the first test, so the cluster starts
          // (~10 s of both cores) before any timing-sensitive test and then idles through the
          // run (~3% of one core, ~600 MiB). Its tests (~25 s) form a group of their own.
          sequence: { groupOrder: 4 },
        },
      },
      {
        extends: true,
        // The Slurm REST client against a real one-node Slurm cluster on loopback (munged,
        // slurmctld, slurmd with one fake GPU, slurmrestd with JWT; ~2 s to start). One file at a
        // time: they share the node's one GPU, and one of them kills slurmd. Beside the k8s
        // files, after the busy first group: the executor's tests start real launchers and
        // trainers (seconds of CPU each), and the node's 4 s SlurmdTimeout wants a calm machine.
        test: {
          name: 'slurm',
          include: ['test/slurm/**/*.test.ts'],
          globalSetup: ['test/helpers/slurm-cluster.ts'],
          fileParallelism: false,
          hookTimeout: 60_000,
          testTimeout: 120_000,
          sequence: { groupOrder: 4 },
        },
      },
      {
        extends: true,
        // Many API replicas (issue #16): two `serve` processes without a worker and two `worker`
        // processes as real child processes, on one Postgres through PgBouncer in transaction
        // mode (test/helpers/pgbouncer.ts), LISTEN on a direct connection, one S3 bucket on
        // SeaweedFS. Four Node processes
        // and a trainer: beside k8s and slurm after the busy first group, not inside it.
        test: {
          name: 'replicas',
          include: ['test/replicas/**/*.test.ts'],
          env: { TRAINYARD_TEST_STORE: 's3' },
          globalSetup: ['test/helpers/postgres-cluster.ts', 'test/helpers/s3-server.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 4 },
        },
      },
      {
        extends: true,
        // The clients (issue #17) against a real server on loopback: the `trainyard` CLI as a
        // real child process (a pseudo-terminal for the progress bars), the TypeScript and
        // Python SDKs, and the MLflow integration against a real MLflow tracking server.
        // Beside k8s, slurm and replicas, after the busy first group; one file at a time, as
        // each starts a server, a worker and a training job.
        test: {
          name: 'clients',
          include: ['test/clients/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite' },
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 4 },
        },
      },
      {
        extends: true,
        // The built-in trainers (tfjs and pure TS) run as the worker runs them, as child
        // processes, and a few learn for real; plus the end-to-end samples → sweep over the
        // four architectures → predict. Once, on PGlite: what that touches of the database is
        // what the pglite and postgres projects already prove on both.
        test: {
          name: 'trainers',
          include: ['test/trainers/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite' },
          // One file at a time: each already keeps both cores busy (several trainers at once,
          // or a worker running two jobs), and files side by side only stretch each other.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        // The Python packs train real (tiny) PyTorch models through the API: minutes of CPU, so
        // they run once, on PGlite (the embedded default a new user meets). What they exercise
        // of the database — jobs, events, checkpoints, the registry — is the same code the
        // pglite and postgres projects already prove on both databases.
        test: {
          name: 'python',
          include: ['test/python/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite' },
          // The cluster for the one file that proves itself on both databases (sequence-torch).
          globalSetup: ['test/helpers/postgres-cluster.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // After the other projects, not beside them: PyTorch takes both cores, which would
          // stretch the lease and timing-sensitive database tests into false failures.
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        // The dashboard in real headless Chromium against a real server (globalSetup builds
        // web/dist as `npm run build` does). After the trainers and the Python packs, never
        // beside them: a browser and a training job at once would only slow each other.
        test: {
          name: 'web',
          include: ['test/web/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite' },
          globalSetup: ['test/helpers/web-build.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 3 },
        },
      },
      {
        extends: true,
        // The API fuzz gate (schemathesis over /openapi.json against a seeded server): a few
        // minutes of two busy cores, so it runs last, alone, never beside the timing-sensitive
        // database tests. Once, on PGlite: it proves the HTTP contract, not the database.
        test: {
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite' },
          testTimeout: 600_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 5 },
        },
      },
    ],
  },
});

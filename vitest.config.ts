import { defineConfig } from 'vitest/config';

// Two database projects run the same files: every database test proves itself on PGlite
// (the embedded default) and on a throwaway real Postgres cluster started by globalSetup.
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
        // The Python packs train real (tiny) PyTorch models through the API: minutes of CPU, so
        // they run once, on PGlite (the embedded default a new user meets). What they exercise
        // of the database — jobs, events, checkpoints, the registry — is the same code the
        // pglite and postgres projects already prove on both databases.
        test: {
          name: 'python',
          include: ['test/python/**/*.test.ts'],
          env: { TRAINYARD_TEST_DB: 'pglite' },
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // After the other projects, not beside them: PyTorch takes both cores, which would
          // stretch the lease and timing-sensitive database tests into false failures.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

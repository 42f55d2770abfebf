/**
 * The settings every test server starts from: any port on loopback, no logs, and rate limits
 * raised out of the way (tests that test them set their own). One place, for the in-process
 * app (app.ts) and the whole-service child process (fixtures/worker-child.ts).
 */
export const TEST_SERVER_ENV = {
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  RATE_LIMIT_DEFAULT: '100000/1m',
  RATE_LIMIT_AUTH: '100000/1m',
  RATE_LIMIT_UPLOAD: '100000/1m',
} as const;

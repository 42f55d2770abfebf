import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const dir = () => mkdtempSync(path.join(tmpdir(), 'trainyard-config-'));

describe('loadConfig', () => {
  it('has working embedded defaults', () => {
    const d = dir();
    const c = loadConfig({ DATA_DIR: d });
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      dataDir: d,
      databaseUrl: null,
      storageDir: path.join(d, 'storage'),
      signupPolicy: 'open',
      admin: null,
    });
    expect(c.rateLimits.default).toEqual({ max: 600, windowMs: 60_000 });
  });

  it('keeps the worker model cache under DATA_DIR unless told otherwise, with a size bound', () => {
    const d = dir();
    expect(loadConfig({ DATA_DIR: d }).worker.modelCache).toEqual({ dir: path.join(d, 'model-cache'), maxBytes: 50 * 1024 ** 3 });
    expect(loadConfig({ DATA_DIR: d, MODEL_CACHE_DIR: '/srv/cache', MODEL_CACHE_MAX_BYTES: '200gb' }).worker.modelCache).toEqual({
      dir: '/srv/cache',
      maxBytes: 200e9,
    });
    expect(() => loadConfig({ DATA_DIR: d, MODEL_CACHE_MAX_BYTES: 'lots' })).toThrow(/MODEL_CACHE_MAX_BYTES/);
  });

  it('generates the secret once and keeps it in DATA_DIR', () => {
    const d = dir();
    const a = loadConfig({ DATA_DIR: d }).secret;
    expect(a.length).toBe(48);
    expect(loadConfig({ DATA_DIR: d }).secret.equals(a)).toBe(true);
    expect(readFileSync(path.join(d, 'secret.key'), 'utf8').trim()).toBe(a.toString('base64url'));
  });

  it.each([
    ['PORT', 'eighty', /PORT: expected an integer/],
    ['PORT', '70000', /PORT: must be between/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL/],
    ['SIGNUP_POLICY', 'maybe', /SIGNUP_POLICY: expected one of open, closed/],
    ['UPLOAD_MAX_BYTES', 'lots', /UPLOAD_MAX_BYTES: expected a size/],
    ['RATE_LIMIT_DEFAULT', '100', /RATE_LIMIT_DEFAULT: expected "N\/window"/],
    ['RATE_LIMIT_AUTH', '10/fortnight', /RATE_LIMIT_AUTH: expected a duration/],
    ['JWT_SECRET', 'short', /JWT_SECRET: must be at least 32/],
    ['WORKER_IN_PROCESS', 'perhaps', /WORKER_IN_PROCESS/],
    ['TRAINYARD_ADMIN_USERNAME', 'root', /TRAINYARD_ADMIN_PASSWORD/],
    ['TRAINYARD_COMPAT', 'neurolab:port', /TRAINYARD_COMPAT: expected name or name:port/],
    ['TRAINYARD_COMPAT', 'neurolab:70000', /TRAINYARD_COMPAT: port 70000 of neurolab/],
    ['TRAINYARD_COMPAT', 'neurolab,neurolab:8000', /TRAINYARD_COMPAT: neurolab is named twice/],
  ])('a bad %s=%s stops start-up naming the variable', (name, value, msg) => {
    const fn = () => loadConfig({ DATA_DIR: dir(), [name]: value });
    expect(fn).toThrow(ConfigError);
    expect(fn).toThrow(msg);
  });

  it('reads DATA_DIR/config.json, and the environment wins over it', () => {
    const d = dir();
    writeFileSync(path.join(d, 'config.json'), JSON.stringify({ PORT: 9000, SIGNUP_POLICY: 'closed', UPLOAD_MAX_BYTES: '10mb' }));
    const c = loadConfig({ DATA_DIR: d, PORT: '9100' });
    expect(c.port).toBe(9100);
    expect(c.signupPolicy).toBe('closed');
    expect(c.uploads.maxFileBytes).toBe(10_000_000);
    writeFileSync(path.join(d, 'config.json'), '{not json');
    expect(() => loadConfig({ DATA_DIR: d })).toThrow(/config\.json: not valid JSON/);
  });

  it('reads the facades to serve from TRAINYARD_COMPAT or config.json, each with its own port or none, and every COMPAT_* setting', () => {
    const d = dir();
    expect(loadConfig({ DATA_DIR: d }).compat).toEqual({ facades: [], settings: {} });
    const c = loadConfig({ DATA_DIR: d, TRAINYARD_COMPAT: ' neurolab:8000, training-service ', COMPAT_X: '1', NOT_COMPAT: '2' });
    expect(c.compat.facades).toEqual([
      { name: 'neurolab', port: 8000 },
      { name: 'training-service', port: null },
    ]);
    expect(c.compat.settings).toEqual({ COMPAT_X: '1' });
    writeFileSync(path.join(d, 'config.json'), JSON.stringify({ TRAINYARD_COMPAT: 'training-service:8002', COMPAT_Y: 'from-file' }));
    expect(loadConfig({ DATA_DIR: d }).compat).toEqual({ facades: [{ name: 'training-service', port: 8002 }], settings: { COMPAT_Y: 'from-file' } });
  });
});

describe('storage settings (STORAGE=fs|s3)', () => {
  const s3 = { STORAGE: 's3', S3_BUCKET: 'trainyard-data' };

  it('defaults to the filesystem; S3 needs only a bucket (region us-east-1, the SDK credential chain)', () => {
    expect(loadConfig({ DATA_DIR: dir() }).storage).toEqual({ kind: 'fs' });
    expect(loadConfig({ DATA_DIR: dir(), ...s3 }).storage).toEqual({
      kind: 's3',
      bucket: 'trainyard-data',
      region: 'us-east-1',
      endpoint: null,
      forcePathStyle: false,
      credentials: null,
    });
  });

  it('an endpoint (MinIO, SeaweedFS …) means path-style unless told otherwise; keys come as a pair', () => {
    const c = loadConfig({
      DATA_DIR: dir(),
      ...s3,
      S3_ENDPOINT: 'http://127.0.0.1:9000/',
      S3_REGION: 'eu-west-3',
      S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI',
    }).storage;
    expect(c).toEqual({
      kind: 's3',
      bucket: 'trainyard-data',
      region: 'eu-west-3',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI' },
    });
    expect(loadConfig({ DATA_DIR: dir(), ...s3, S3_ENDPOINT: 'https://s3.example.com', S3_FORCE_PATH_STYLE: 'false' }).storage).toMatchObject({
      forcePathStyle: false,
    });
  });

  it.each([
    [{ STORAGE: 'gcs' }, /STORAGE: expected one of fs, s3/],
    [{ STORAGE: 's3' }, /S3_BUCKET: required when STORAGE=s3/],
    [{ ...s3, S3_BUCKET: 'Bad_Bucket' }, /S3_BUCKET: not a valid bucket name/],
    [{ ...s3, S3_ENDPOINT: 'minio:9000' }, /S3_ENDPOINT: expected an http\(s\) URL/],
    [{ ...s3, S3_ENDPOINT: 'http://user:pw@minio:9000' }, /S3_ENDPOINT: expected an http\(s\) URL without credentials/],
    [{ ...s3, S3_REGION: 'EU West' }, /S3_REGION: expected a region/],
    [{ ...s3, S3_ACCESS_KEY_ID: 'AKIDEXAMPLE' }, /S3_SECRET_ACCESS_KEY: set both/],
    [{ ...s3, S3_SECRET_ACCESS_KEY: 'secret-value' }, /S3_ACCESS_KEY_ID: set both/],
    [{ ...s3, S3_FORCE_PATH_STYLE: 'sometimes' }, /S3_FORCE_PATH_STYLE: expected true or false/],
  ])('%o is refused naming the variable', (env, message) => {
    expect(() => loadConfig({ DATA_DIR: dir(), ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ DATA_DIR: dir(), ...env })).toThrow(message);
  });

  it('never puts the secret key in an error', () => {
    try {
      loadConfig({ DATA_DIR: dir(), ...s3, S3_SECRET_ACCESS_KEY: 'top-secret-value' });
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('top-secret-value');
    }
  });
});

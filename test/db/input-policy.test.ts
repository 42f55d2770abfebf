import { readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset } from '../helpers/jobs.js';
import { waitForDataset, waitForJob } from '../helpers/wait.js';

/**
 * Issue #10, item 4: inputs Postgres or JavaScript cannot handle (NUL, lone surrogates, deep
 * nesting, huge integers) answered 500. One input policy (src/app/plugins/input-policy.ts)
 * now answers 400 with a stable code on every route; these tables walk many routes per class.
 */
let t: TestApp;
let api: ReturnType<typeof client>;
let alice: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let admin: typeof alice;
let jobId: string;
let datasetId: string;

const NUL = '\u0000';
const LONE = '\ud800';

beforeAll(async () => {
  t = await startTestApp();
  api = client(t.url);
  alice = await api.user('alice');
  admin = await api.user('root');
  await t.testDb.db.query("update users set role = 'admin' where id = $1", [admin.id]);
  datasetId = await csvDataset(api, alice.token, 'policy');
  const job = await api.post(
    '/v1/jobs',
    { trainer: 'linear-classifier', dataset_id: datasetId, hyperparameters: { epochs: 1 }, output: { model_name: 'policy-model' } },
    alice.token,
  );
  expect(job.status).toBe(202);
  jobId = job.body.id;
  await waitForJob(api, alice.token, jobId);
});

afterAll(async () => {
  await t?.close();
});

/** Every JSON-body route where a string a caller chose goes in, with `s` as that string. */
function bodyRoutes(s: string): [string, string, unknown, 'user' | 'admin' | 'none'][] {
  return [
    ['POST', '/v1/auth/signup', { username: `eve${s}`, email: 'eve@example.com', password: 'long enough password' }, 'none'],
    ['POST', '/v1/auth/signup', { username: 'eve2', email: `eve2${s}@example.com`, password: 'long enough password' }, 'none'],
    ['POST', '/v1/auth/login', { username: `alice${s}`, password: 'whatever it is' }, 'none'],
    ['POST', '/v1/auth/login', { username: 'alice', password: `pass${s}word` }, 'none'],
    ['POST', '/v1/api-keys', { name: `key${s}` }, 'user'],
    ['POST', '/v1/datasets', { name: `ds${s}`, kind: 'tabular-csv', file_ids: ['f_x'] }, 'user'],
    ['POST', '/v1/datasets', { name: 'ds', kind: 'tabular-csv', file_ids: [`f_${s}`] }, 'user'],
    ['POST', '/v1/datasets', { name: 'ds', kind: 'tabular-csv', file_ids: ['f_x'], description: `d${s}` }, 'user'],
    ['POST', '/v1/jobs', { trainer: 'linear-classifier', dataset_id: datasetId, metadata: { note: `n${s}` }, output: { model_name: 'm1' } }, 'user'],
    ['POST', '/v1/jobs', { trainer: 'linear-classifier', dataset_id: datasetId, metadata: { [`k${s}`]: 1 }, output: { model_name: 'm1' } }, 'user'],
    ['POST', '/v1/jobs', { trainer: `linear${s}`, dataset_id: datasetId, output: { model_name: 'm1' } }, 'user'],
    ['POST', '/v1/jobs', { trainer: 'linear-classifier', dataset_id: `ds_${s}`, output: { model_name: 'm1' } }, 'user'],
    ['POST', '/v1/jobs', { trainer: 'linear-classifier', dataset_id: datasetId, output: { model_name: `m${s}` } }, 'user'],
    [
      'POST',
      '/v1/jobs',
      { trainer: 'linear-classifier', dataset_id: datasetId, webhook_url: `https://example.com/${s}`, output: { model_name: 'm1' } },
      'user',
    ],
    ['POST', '/v1/jobs', { trainer: 'linear-classifier', dataset_id: datasetId, hyperparameters: { [`x${s}`]: 1 }, output: { model_name: 'm1' } }, 'user'],
    ['POST', '/v1/webhooks', { url: `https://example.com/${s}`, events: ['job.succeeded'] }, 'user'],
    ['POST', '/v1/sweeps', { trainer: 'linear-classifier', dataset_id: datasetId, grid: { epochs: [1] }, output: { model_name: `s${s}` } }, 'user'],
    ['PATCH', '/v1/models/policy-model', { description: `d${s}` }, 'user'],
    ['PATCH', '/v1/models/policy-model', { tags: [`t${s}`] }, 'user'],
    ['POST', '/v1/models/policy-model/predict', { instances: [{ f1: `x${s}`, f2: 1, f3: 1 }] }, 'user'],
    ['POST', '/v1/uploads', { filename: `a${s}.csv`, bytes: 10 }, 'user'],
    ['POST', '/v1/files/import', { urls: [`https://example.com/${s}`] }, 'user'],
    ['POST', '/v1/datasets/samples', { kind: `eeg${s}` }, 'user'],
    ['POST', '/v1/generations', { model: `m${s}`, prompt: `p${s}` }, 'user'],
    ['POST', '/v1/admin/base-models', { id: 'bm', architecture: 'bert', trainers: ['linear-classifier'], path: `/x${s}` }, 'admin'],
    ['POST', '/v1/admin/credits/grants', { user_id: alice.id, credits: 1, reason: `r${s}` }, 'admin'],
  ];
}

function tokenFor(who: 'user' | 'admin' | 'none') {
  return who === 'user' ? alice.token : who === 'admin' ? admin.token : undefined;
}

describe('text fields refuse NUL and lone surrogates', () => {
  for (const [label, bad, code] of [
    ['NUL', NUL, 'TEXT_NUL_CHARACTER'],
    ['a lone surrogate', LONE, 'TEXT_LONE_SURROGATE'],
  ] as const) {
    it(`${label} in any JSON body string or key answers 400 ${code}`, async () => {
      const answers = [];
      for (const [method, p, json, who] of bodyRoutes(bad)) {
        const token = tokenFor(who);
        const r = await api.call(method, p, { json, ...(token ? { token } : {}) });
        answers.push({ route: `${method} ${p}`, status: r.status, code: r.body?.error?.code });
      }
      expect(answers.filter((a) => a.status !== 400 || a.code !== code)).toEqual([]);
    });
  }

  it('NUL in path ids and query strings answers 400 on every kind of route', async () => {
    const routes: [string, string][] = [
      ['GET', '/v1/jobs/%00'],
      ['GET', `/v1/jobs/${'j%00x'}/events`],
      ['GET', '/v1/jobs/j%00/logs'],
      ['POST', '/v1/jobs/j%00/cancel'],
      ['DELETE', '/v1/jobs/j%00'],
      ['GET', '/v1/datasets/d%00'],
      ['DELETE', '/v1/datasets/d%00'],
      ['GET', '/v1/files/f%00'],
      ['DELETE', '/v1/files/f%00'],
      ['POST', '/v1/uploads/f%00/complete'],
      ['DELETE', '/v1/api-keys/k%00'],
      ['DELETE', '/v1/webhooks/w%00'],
      ['GET', '/v1/sweeps/s%00'],
      ['GET', '/v1/generations/g%00'],
      ['GET', '/v1/trainers/t%00'],
      ['GET', '/v1/base-models/b%00'],
      ['GET', '/v1/models/m%00'],
      ['GET', '/v1/models/m%00/versions'],
      ['GET', '/v1/models/policy-model/versions/l%00'],
      ['GET', '/v1/models/policy-model/versions/1/artifacts/a%00'],
      ['GET', '/v1/jobs?trainer=%00'],
      ['GET', '/v1/jobs?cursor=%00'],
      ['GET', '/v1/files?cursor=%00'],
      ['GET', '/v1/datasets?cursor=a%00'],
      ['GET', '/v1/base-models?trainer=%00'],
      ['GET', '/v1/credits/transactions?cursor=%00'],
      ['GET', '/v1/sweeps?cursor=%00'],
      ['GET', '/v1/jobs/j1/logs?since=%00'],
    ];
    const answers = [];
    for (const [method, p] of routes) {
      const r = await api.call(method, p, { token: alice.token });
      answers.push({ route: `${method} ${p}`, status: r.status, code: r.body?.error?.code });
    }
    expect(answers.filter((a) => a.status !== 400 || !['TEXT_NUL_CHARACTER', 'TEXT_LONE_SURROGATE', 'INVALID_PATH'].includes(a.code))).toEqual([]);
  });

  it('the multipart upload and the signed blob URL refuse NUL in names and keys', async () => {
    // The server answers 400 before reading the body and may close the connection while the
    // client still writes it; Node 26's fetch then fails with EPIPE instead of returning the 400
    // (a race, seen on CI). Retried: what is asserted is the answer, when the client gets it.
    const retried = async <T>(send: () => Promise<T>): Promise<T> => {
      for (let i = 0; ; i++) {
        try {
          return await send();
        } catch (err) {
          if (i >= 4 || !/EPIPE|ECONNRESET/.test(String((err as { cause?: unknown }).cause ?? err))) throw err;
        }
      }
    };
    const up = await retried(() => api.upload(alice.token, `a${NUL}b.csv`, 'a,b\n1,2\n'));
    expect([up.status, up.body?.error?.code]).toEqual([400, 'TEXT_NUL_CHARACTER']);
    for (const method of ['GET', 'PUT']) {
      const r = await retried(() => api.call(method, `/blobs/uploads/x%00y?method=${method}&expires=1&signature=abc`, method === 'PUT' ? { body: 'x' } : {}));
      expect([method, r.status, r.body?.error?.code]).toEqual([method, 400, 'TEXT_NUL_CHARACTER']);
    }
  });

  it('a lone surrogate sent as raw UTF-8 bytes in a path or query never answers 500', async () => {
    for (const p of ['/v1/jobs?trainer=%ED%A0%80', '/v1/jobs/%ED%A0%80', '/v1/models/%ED%A0%80/versions', '/v1/datasets?cursor=%ED%A0%80']) {
      const r = await api.get(p, alice.token);
      expect([p, r.status < 500]).toEqual([p, true]);
    }
  });

  it('a header the app reads, with a NUL in it, is refused by the HTTP parser with 400', async () => {
    const u = new URL(t.url);
    for (const header of ['idempotency-key', 'authorization', 'last-event-id', 'x-request-id']) {
      const head = await new Promise<string>((resolve, reject) => {
        const sock = connect(Number(u.port), u.hostname, () => {
          sock.write(`GET /v1/me HTTP/1.1\r\nhost: x\r\n${header}: a\u0000b\r\nconnection: close\r\n\r\n`);
        });
        let got = '';
        sock.on('data', (d) => (got += d.toString('latin1')));
        sock.on('end', () => resolve(got));
        sock.on('error', reject);
      });
      expect([header, head.split('\r\n')[0]]).toEqual([header, 'HTTP/1.1 400 Bad Request']);
    }
  });
});

describe('nesting depth is bounded before anything recursive runs', () => {
  const deepArray = '['.repeat(20_000) + ']'.repeat(20_000);
  const deepObject = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000);
  const routes: [string, string, (deep: string) => string, 'user' | 'none'][] = [
    ['POST', '/v1/auth/login', (d) => d, 'none'],
    ['POST', '/v1/auth/signup', (d) => `{"username":${d}}`, 'none'],
    ['POST', '/v1/jobs', (d) => `{"trainer":"linear-classifier","dataset_id":"${datasetId}","hyperparameters":{"x":${d}},"output":{"model_name":"m"}}`, 'user'],
    ['POST', '/v1/jobs', (d) => `{"trainer":"linear-classifier","dataset_id":"${datasetId}","metadata":{"x":${d}},"output":{"model_name":"m"}}`, 'user'],
    ['POST', '/v1/sweeps', (d) => `{"trainer":"linear-classifier","dataset_id":"${datasetId}","grid":{"epochs":[${d}]},"output":{"model_name":"m"}}`, 'user'],
    ['POST', '/v1/models/policy-model/predict', (d) => `{"instances":[${d}]}`, 'user'],
    ['POST', '/v1/datasets', (d) => `{"name":"x","kind":"tabular-csv","file_ids":["f"],"options":${d}}`, 'user'],
    ['POST', '/v1/webhooks', (d) => d, 'user'],
    ['PATCH', '/v1/models/policy-model', (d) => `{"tags":${d}}`, 'user'],
  ];
  it('bodies nested 20,000 deep answer 400 BODY_TOO_DEEP on every JSON route', async () => {
    const answers = [];
    for (const [method, p, wrap, who] of routes) {
      for (const deep of [deepArray, deepObject]) {
        const token = tokenFor(who);
        const r = await api.call(method, p, { body: wrap(deep), headers: { 'content-type': 'application/json' }, ...(token ? { token } : {}) });
        answers.push({ route: `${method} ${p}`, status: r.status, code: r.body?.error?.code });
      }
    }
    expect(answers.filter((a) => a.status !== 400 || a.code !== 'BODY_TOO_DEEP')).toEqual([]);
  });

  it('brackets inside strings do not count, and ordinary nesting still parses', async () => {
    const r = await api.call('POST', '/v1/api-keys', {
      body: JSON.stringify({ name: '['.repeat(90) + '{'.repeat(9) }),
      headers: { 'content-type': 'application/json' },
      token: alice.token,
    });
    expect(r.status).toBe(201);
  });
});

describe('integers are bounded', () => {
  it('huge page, after, version and cursor numbers answer 400, never 500', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/models?page=1e20'],
      ['GET', '/v1/models?page=99999999999999999999'],
      ['GET', '/v1/models?page=1e15'],
      ['GET', `/v1/jobs/${jobId}/events?after=1e20`],
      ['GET', `/v1/jobs/${jobId}/events?after=99999999999999999999`],
      ['GET', `/v1/jobs/${jobId}/events?after=1e20&limit=5`],
      ['GET', `/v1/jobs/${jobId}/logs?tail=1e20`],
      ['GET', '/v1/files?limit=1e20'],
      ['PUT', '/v1/models/policy-model/aliases/prod', { version: 1e20 }],
      ['PUT', '/v1/models/policy-model/aliases/prod', { version: 3_000_000_000 }],
      [
        'POST',
        '/v1/jobs',
        { trainer: 'linear-classifier', dataset_id: datasetId, from_model: { name: 'policy-model', version: 1e20 }, output: { model_name: 'm' } },
      ],
    ];
    const answers = [];
    for (const [method, p, json] of routes) {
      const r = await api.call(method, p, { token: alice.token, ...(json === undefined ? {} : { json }) });
      answers.push({ route: `${method} ${p}`, status: r.status, code: r.body?.error?.code });
    }
    expect(answers.filter((a) => a.status !== 400)).toEqual([]);
  });

  it('dates Postgres or JavaScript cannot hold answer 400 (year 0, a leap second in 9999)', async () => {
    for (const since of ['0000-01-01T00:00:00Z', '9999-12-31T23:59:60Z', '2024-02-30T00:00:00Z', '+275760-09-13T00:00:00Z']) {
      const r = await api.get(`/v1/jobs/${jobId}/logs?since=${encodeURIComponent(since)}`, alice.token);
      expect([since, r.status, r.body.error?.code]).toEqual([since, 400, 'VALIDATION_ERROR']);
    }
    expect((await api.get(`/v1/jobs/${jobId}/logs?since=${encodeURIComponent('2024-01-01T00:00:00+02:00')}`, alice.token)).status).toBe(200);
  });

  it('forged cursors answer 400 INVALID_CURSOR on every cursor-paged list', async () => {
    const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
    const forged = [
      b64({ t: '0000-01-01T00:00:00Z', id: 'job_x' }),
      b64({ t: '2024', id: 'job_x' }),
      b64({ t: '2024-01-01T00:00:00Z', id: 'a\u0000b' }),
      b64({ t: '2024-01-01T00:00:00Z', id: '\ud800' }),
      b64({ t: '2024-01-01T00:00:00Z', id: 'x'.repeat(300) }),
      b64('not json'),
    ];
    const lists = ['/v1/jobs', '/v1/files', '/v1/datasets', '/v1/sweeps', '/v1/generations', '/v1/webhooks/deliveries'];
    const answers = [];
    for (const l of lists)
      for (const c of forged) {
        const r = await api.get(`${l}?cursor=${c}`, alice.token);
        answers.push({ l, c: Buffer.from(c, 'base64url').toString(), status: r.status, code: r.body.error?.code });
      }
    for (const c of [b64('1e20'), b64('99999999999999999999'), b64('-1'), b64('1.5')]) {
      const r = await api.get(`/v1/credits/transactions?cursor=${c}`, alice.token);
      answers.push({ l: 'credits', c: Buffer.from(c, 'base64url').toString(), status: r.status, code: r.body.error?.code });
    }
    expect(answers.filter((a) => a.status !== 400 || a.code !== 'INVALID_CURSOR')).toEqual([]);
  });

  it('a version number beyond any stored one is simply not found', async () => {
    const r = await api.get('/v1/models/policy-model/versions/99999999999999999999', alice.token);
    expect([r.status, r.body.error.code]).toEqual([404, 'MODEL_VERSION_NOT_FOUND']);
  });

  it('ordinary values still work', async () => {
    expect((await api.get('/v1/models?page=1', alice.token)).status).toBe(200);
    expect((await api.get(`/v1/jobs/${jobId}/events?after=0&limit=5`, alice.token)).status).toBe(200);
  });
});

describe('dataset files Postgres cannot hold end as validation errors naming the line', () => {
  // Past the 8 KiB the sniffer reads, so the upload is accepted as CSV and validation decides.
  const padding = Array.from({ length: 2000 }, (_, i) => `${i % 7}.5,${i % 3 === 0 ? 'red' : 'blue'}`).join('\n');
  const cases: [string, Buffer, number][] = [
    ['a NUL in a value', Buffer.from(`f1,label\n${padding}\n1.5,re\u0000d\n2.5,blue\n`), 2002],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from(`f1,label\n${padding}\n1.5,`), Buffer.from([0xff, 0xfe]), Buffer.from('\n2.5,blue\n')]), 2002],
  ];
  for (const [what, bytes, line] of cases) {
    it(`${what} in a CSV`, async () => {
      const f = await api.upload(alice.token, 'bad.csv', bytes);
      expect(f.status).toBe(201);
      const d = await api.post(
        '/v1/datasets',
        { name: `bad-${line}-${bytes.length}`, kind: 'tabular-csv', file_ids: [f.body.id], options: { label_column: 'label' } },
        alice.token,
      );
      expect(d.status).toBe(201);
      const ds = await waitForDataset(api, alice.token, d.body.id);
      expect(ds.status).toBe('error');
      expect(ds.errors).toEqual([expect.objectContaining({ file_id: f.body.id, line })]);
      expect(ds.errors[0].message).not.toMatch(/internal/i);
    });
  }
});

describe('a UTF-16 CSV is named as such, not as MPEG audio', () => {
  it('answers 415 TEXT_ENCODING_UNSUPPORTED through the upload route', async () => {
    const text = 'f1,label\n0.5,red\n0.7,blue\n';
    for (const [bytes, encoding] of [
      [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), 'UTF-16LE'],
      [Buffer.from(text, 'utf16le'), 'UTF-16LE'],
    ] as const) {
      const r = await api.upload(alice.token, 'excel-export.csv', bytes);
      expect([r.status, r.body.error.code, r.body.error.details.encoding]).toEqual([415, 'TEXT_ENCODING_UNSUPPORTED', encoding]);
      expect(r.body.error.message).toMatch(/UTF-8/);
    }
  });
});

describe('hyperparameters are bounded', () => {
  it('refuses l1_reg / l2_reg beyond their maximum with INVALID_HYPERPARAMETERS', async () => {
    for (const hp of [{ l2_reg: 1e300 }, { l1_reg: 50 }]) {
      const r = await api.post(
        '/v1/jobs',
        { trainer: 'sequence-classifier', dataset_id: datasetId, hyperparameters: hp, output: { model_name: 'seq' } },
        alice.token,
      );
      expect([r.status, r.body.error?.code]).toEqual([400, 'INVALID_HYPERPARAMETERS']);
    }
  });
});

describe('ordinary users never see a server path (admins may)', () => {
  const serverPaths = () => [t.dataDir, process.cwd(), process.execPath, tmpdir()];
  const leaks = (body: unknown) => serverPaths().filter((p) => JSON.stringify(body).includes(p));

  it('trainer and base-model entries hide local paths from ordinary users, not from admins', async () => {
    for (const p of ['/v1/trainers', '/v1/trainers/linear-classifier', '/v1/base-models', '/v1/base-models/llama-3.2-1b']) {
      const r = await api.get(p, alice.token);
      expect([p, r.status, leaks(r.body)]).toEqual([p, 200, []]);
    }
    const asAdmin = await api.get('/v1/base-models/llama-3.2-1b', admin.token);
    expect(asAdmin.body.local_path).toBe(path.join(t.dataDir, 'models/llama-3.2-1b'));
    const asUser = await api.get('/v1/base-models/llama-3.2-1b', alice.token);
    expect(asUser.body.local_path).toBeNull();
  });

  it('starting a job on a trainer that is unavailable for a server-side reason does not show the path', async () => {
    const all = (await api.get('/v1/trainers', admin.token)).body.data as { id: string; unavailable_reason: string | null }[];
    const withPath = all.filter((x) => x.unavailable_reason && serverPaths().some((p) => x.unavailable_reason!.includes(p)));
    for (const tr of withPath) {
      const r = await api.post('/v1/jobs', { trainer: tr.id, dataset_id: datasetId, output: { model_name: 'x' } }, alice.token);
      expect([tr.id, r.status >= 400, leaks(r.body)]).toEqual([tr.id, true, []]);
    }
  });

  it('a job that fails on a missing stored file says so without the path', async () => {
    const ds = await csvDataset(api, alice.token, 'vanishing');
    // The bytes vanish from storage behind the service's back (a disk problem, an operator's rm).
    for (const f of await readdir(path.join(t.dataDir, 'storage'), { recursive: true, withFileTypes: true })) {
      if (f.isFile()) await rm(path.join(f.parentPath, f.name));
    }
    const job = await api.post('/v1/jobs', { trainer: 'linear-classifier', dataset_id: ds, output: { model_name: 'vanishing' } }, alice.token);
    expect(job.status).toBe(202);
    const done = await waitForJob(api, alice.token, job.body.id);
    expect(done.status).toBe('failed');
    expect(done.error.message).toMatch(/could not prepare|integrity/i);
    expect(leaks(done)).toEqual([]);
    const events = await api.get(`/v1/jobs/${job.body.id}/events`, alice.token);
    expect(leaks(events.body)).toEqual([]);
  });
});

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Trainyard, TrainyardError } from '../../clients/typescript/src/index.js';
import { followJob } from '../../src/cli/client/events.js';
import { Api as CliApi, ClientError } from '../../src/cli/client/http.js';
import { client, startPeer, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, testTrainers } from '../helpers/jobs.js';
import { until } from '../helpers/wait.js';

// Live streams are authenticated once, when they open; they must still end when their caller
// loses access while they are open: a revoked key, a disabled user, a demoted admin watching
// someone else's job. Two API instances share one database (as in principal-cache.test.ts),
// so a change made through one must end the streams held by the other: each hears the
// `principals` NOTIFY and rechecks its own streams. No worker runs: the jobs stay queued, so
// their streams stay open until something ends them.

const SECRET = 'stream-revocation-test-secret-0123456789abcdef';
const ADMIN = { username: 'stream-admin', password: 'correct horse battery staple' };
const ENV = { TRAINYARD_SECRET: SECRET, TRAINYARD_ADMIN_USERNAME: ADMIN.username, TRAINYARD_ADMIN_PASSWORD: ADMIN.password, AUTH_CACHE_MS: '60000' };

type Api = ReturnType<typeof client>;
let a: TestApp;
let b: Awaited<ReturnType<typeof startPeer>>;
let A: Api;
let B: Api;
let admin: string;

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-streams-'));
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify(testTrainers()));
  a = await startTestApp({ dataDir, env: { ...ENV, STORAGE: 'fs', WORKER_IN_PROCESS: 'false' } });
  b = await startPeer(a, ENV);
  A = client(a.url);
  B = client(b.rt.url);
  admin = (await A.post('/v1/auth/login', ADMIN)).body.access_token;
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

async function queuedJob(token: string): Promise<string> {
  const ds = await csvDataset(A, token, `d-${Math.random().toString(36).slice(2, 8)}`);
  const r = await A.post('/v1/jobs', { trainer: 'echo', dataset_id: ds, output: { model_name: 'm' } }, token);
  expect(r.status).toBe(202);
  return r.body.id as string;
}

/** An open SSE stream: `ended` resolves with the whole body once the server ends it. */
async function openSse(base: string, jobId: string, token: string) {
  const abort = new AbortController();
  const res = await fetch(`${base}/v1/jobs/${jobId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  let body = '';
  let done = false;
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) body += decoder.decode(chunk, { stream: true });
      done = true;
    } catch {
      // Aborted by the test.
    }
    return body;
  })();
  // Open once the backlog (the job's `queued` status) has arrived.
  await until(() => body.includes('event: status'), { message: 'the stream’s backlog' });
  return { ended, isOpen: () => !done, abort: () => abort.abort() };
}

/** A WebSocket on a job's events: its messages, and its close code once it closes. */
async function openWs(base: string, jobId: string, token: string) {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/jobs/${jobId}/ws`, { headers: { authorization: `Bearer ${token}` } });
  const got: any[] = [];
  ws.on('message', (m) => got.push(JSON.parse(String(m))));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  await until(() => got.length > 0, { message: 'the WebSocket’s backlog' });
  return { ws, got, closed };
}

const denied = (body: string) => {
  const block = body.split('\n\n').find((b) => b.startsWith('event: denied'));
  return block ? JSON.parse(block.slice(block.indexOf('data: ') + 6)).error.code : null;
};
const held = (userId: string) => [a.rt.services.hub!.slots.held(userId), b.rt.services.hub!.slots.held(userId)];

describe('live streams lose access while open', () => {
  it('a revoked key ends the streams opened with it on both processes; the session’s own stream stays open', async () => {
    const u = await A.user('streamer');
    const key = (await A.post('/v1/api-keys', { name: 'k' }, u.token)).body;
    const job = await queuedJob(u.token);
    const sseB = await openSse(b.rt.url, job, key.secret);
    const wsA = await openWs(a.url, job, key.secret);
    const session = await openSse(b.rt.url, job, u.token);
    expect(held(u.id)).toEqual([1, 2]);

    expect((await A.del(`/v1/api-keys/${key.id}`, u.token)).status).toBe(204);
    expect(denied(await sseB.ended)).toBe('INVALID_API_KEY');
    expect(await wsA.closed).toEqual({ code: 4401, reason: 'INVALID_API_KEY' });
    expect(wsA.got.at(-1)).toEqual({ error: { code: 'INVALID_API_KEY', message: expect.any(String) } });
    await until(() => held(u.id).join() === '0,1', { message: 'the revoked streams’ slots back' });
    // EventSource reconnects with the same key: refused now.
    expect((await fetch(`${b.rt.url}/v1/jobs/${job}/events`, { headers: { authorization: `Bearer ${key.secret}`, accept: 'text/event-stream' } })).status).toBe(
      401,
    );
    expect(session.isOpen()).toBe(true);
    session.abort();
    await until(() => held(u.id).join() === '0,0', { message: 'every slot back' });
  });

  it('disabling a user ends their session’s streams; a demoted admin’s stream of another user’s job ends 404', async () => {
    const owner = await A.user('watched');
    const watcher = await A.user('watcher');
    expect((await A.call('PATCH', `/v1/admin/users/${watcher.id}`, { token: admin, json: { role: 'admin' } })).status).toBe(200);
    const job = await queuedJob(owner.token);
    const ownerStream = await openSse(a.url, job, owner.token);
    // An admin may watch anyone's job, on either process.
    const adminWs = await openWs(b.rt.url, job, watcher.token);

    expect((await A.call('PATCH', `/v1/admin/users/${watcher.id}`, { token: admin, json: { role: 'user' } })).status).toBe(200);
    expect(await adminWs.closed).toEqual({ code: 4404, reason: 'JOB_NOT_FOUND' });
    expect(ownerStream.isOpen()).toBe(true);

    expect((await B.call('PATCH', `/v1/admin/users/${owner.id}`, { token: admin, json: { disabled: true } })).status).toBe(200);
    expect(denied(await ownerStream.ended)).toBe('INVALID_TOKEN');
    await until(() => held(owner.id).join() === '0,0' && held(watcher.id).join() === '0,0', { message: 'every slot back' });
  });

  // The clients read the `denied` frame and stop with its code, instead of reconnecting into a
  // 401 (or, before, the CLI losing its resume point on a frame without an id).
  const PYTHON = path.resolve('.venv-clients/bin/python');
  it('the CLI, the TypeScript SDK and the Python SDK stop with the denial’s code', async () => {
    const u = await A.user('client-watcher');
    const key = (await A.post('/v1/api-keys', { name: 'k' }, u.token)).body;
    const job = await queuedJob(u.token);
    const cli = followJob(new CliApi(b.rt.url, key.secret), job, () => {}).catch((e: unknown) => e);
    const sdk = (async () => {
      for await (const _ of new Trainyard({ url: a.url, apiKey: key.secret }).jobs.events(job));
    })().catch((e: unknown) => e);
    const streams = 2 + (existsSync(PYTHON) ? 1 : 0);
    const py = existsSync(PYTHON)
      ? new Promise<string>((resolve) => {
          const code = `import sys
from trainyard import Client, TrainyardError
try:
    for _ in Client(sys.argv[1], sys.argv[2]).jobs.stream(sys.argv[3]): pass
    print("ENDED")
except TrainyardError as e:
    print(e.status, e.code, e.message)`;
          const child = spawn(PYTHON, ['-c', code, a.url, key.secret, job], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.on('close', () => resolve(out.trim()));
        })
      : null;
    await until(() => held(u.id)[0]! + held(u.id)[1]! === streams, { message: 'every client’s stream open' });

    expect((await A.del(`/v1/api-keys/${key.id}`, u.token)).status).toBe(204);
    const [fromCli, fromSdk] = await Promise.all([cli, sdk]);
    expect(fromCli).toBeInstanceOf(ClientError);
    // "ended", not refused on a reconnection: the clients read the frame.
    const ended = expect.stringContaining('the event stream was ended');
    expect(fromCli).toMatchObject({ code: 'INVALID_API_KEY', status: 401, message: ended });
    expect(fromSdk).toBeInstanceOf(TrainyardError);
    expect(fromSdk).toMatchObject({ code: 'INVALID_API_KEY', status: 401, message: ended });
    if (py) expect(await py).toMatch(/^401 INVALID_API_KEY the event stream was ended/);
    await until(() => held(u.id).join() === '0,0', { message: 'every slot back' });
  });
});

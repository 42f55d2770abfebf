import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { TEST_DB } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

// Seed 003 (the selfie bot API) on its own port, without the Python environment: the catalog
// points lora-diffusion at a stand-in (fixtures/trainers/selfi-trainer.mjs: the sampler, which
// writes real PNG samples, with a failing and a gated mode) and diffusion-generate at one that
// writes a PNG. One worker slot, so a training queued behind another is deterministically
// PENDING. Real training on the tiny Stable Diffusion: test/python/compat-selfi.test.ts.

const ADMIN = { username: 'selfi-op', password: 'correct horse battery staple' };
const FIXTURES = path.resolve('test/fixtures/trainers');
const PNG = '89504e470d0a1a0a';

let t: TestApp;
let base: string;
let admin: string;
let botKey: string;
let dataDir: string;
let gates: string;
/** Images elsewhere on the web (a loopback address the import policy is told to allow). */
let origin: Server;
let originUrl: string;
let botId: string;
const v1 = () => client(t.url);

/** A call as the bot acting for Telegram user `user` (the document's two headers). */
const as = (user: string, method: string, p: string, json?: unknown, key = botKey) =>
  client(base).call(method, p, { headers: { 'x-user-id': user, 'x-auth-token': key }, ...(json !== undefined ? { json } : {}) });

const image = (i: number) =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: { r: (i * 23) % 256, g: 100, b: 200 } } })
    .png()
    .toBuffer();

async function upload(user: string, bytes: Buffer, filename = 'me.png', key = botKey) {
  const form = new FormData();
  form.append('file', new Blob([bytes]), filename);
  return client(base).call('POST', '/upload', { headers: { 'x-user-id': user, 'x-auth-token': key }, body: form });
}

async function uploadSet(user: string, n = 10): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await upload(user, await image(i), `selfie-${i}.png`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    urls.push(r.body.url);
  }
  return urls;
}

const open = (word: string, ...steps: number[]) => Promise.all(steps.map((s) => writeFile(path.join(gates, word, `go-${s}`), '')));
const status = (user: string, id: string) => as(user, 'GET', `/training/${id}/status`).then((r) => r.body);
const myLora = async (user: string, id: string) => (await as(user, 'GET', '/loras/me')).body.loras.find((l: { id: string }) => l.id === id);
const fetchPng = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-selfi-'));
  gates = await mkdtemp(path.join(tmpdir(), 'trainyard-selfi-gates-'));
  await chmod(gates, 0o755);
  for (const w of ['gatedblocker', 'gatedmain']) {
    await mkdir(path.join(gates, w));
    await chmod(path.join(gates, w), 0o755);
  }
  const cmd = (file: string, ...args: string[]) => ({ type: 'command', entry: file, command: [process.execPath, path.join(FIXTURES, `${file}.mjs`), ...args] });
  await writeFile(
    path.join(dataDir, 'catalog.json'),
    JSON.stringify({
      trainers: [
        { id: 'lora-diffusion', runtime: cmd('selfi-trainer', gates), resources: { gpus: 0, memory_mb: 256 } },
        { id: 'diffusion-generate', runtime: cmd('selfi-generate'), resources: { gpus: 0, memory_mb: 128 } },
      ],
    }),
  );
  // The trainers' default base model, "installed" (its marker file) so nothing is downloaded.
  await mkdir(path.join(dataDir, 'models', 'stable-diffusion-v1-5'), { recursive: true });
  await writeFile(path.join(dataDir, 'models', 'stable-diffusion-v1-5', 'model_index.json'), '{}');
  t = await startTestApp({
    dataDir,
    env: {
      TRAINYARD_COMPAT: 'selfi:0',
      TRAINYARD_ADMIN_USERNAME: ADMIN.username,
      TRAINYARD_ADMIN_PASSWORD: ADMIN.password,
      WORKER_POLL_MS: '50',
      WORKER_CONCURRENCY: '1',
      SIGNUP_CREDIT_GRANT: '30',
      COMPAT_SELFI_UPLOAD_MAX: '64KiB',
      COMPAT_SELFI_GENERATE_WAIT: '6',
      IMPORT_ALLOW_ADDRESSES: '127.0.0.2/32',
    },
  });
  origin = createServer((req, res) => {
    const m = /^\/photo-(\d+)\.png$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end();
    void image(Number(m[1])).then((png) => res.writeHead(200, { 'content-type': 'image/png' }).end(png));
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.2', r));
  originUrl = `http://127.0.0.2:${(origin.address() as { port: number }).port}`;
  base = t.compatUrls.selfi!;
  admin = (await v1().post('/v1/auth/login', ADMIN)).body.access_token;
  const bot = await v1().post('/v1/admin/bots', { name: 'selfi-bot', provider: 'telegram' }, admin);
  expect(bot.status, JSON.stringify(bot.body)).toBe(201);
  botKey = bot.body.api_key.secret;
  botId = bot.body.bot.id;
}, 60_000);
afterAll(async () => {
  origin?.close();
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(gates, { recursive: true, force: true });
});

describe('selfi facade (seed 003) with stand-in trainers', () => {
  it('401 for missing or refused headers, in the document’s envelope; a bot acts only for its provider’s users', async () => {
    const bare = await client(base).get('/stars/balance');
    expect(bare.status).toBe(401);
    expect(bare.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect((await client(base).call('GET', '/stars/balance', { headers: { 'x-user-id': '1001' } })).status).toBe(401);
    expect((await client(base).call('GET', '/stars/balance', { headers: { 'x-auth-token': botKey } })).status).toBe(401);
    const forged = await as('1001', 'GET', '/stars/balance', undefined, 'ty_not-a-real-key');
    expect(forged.body.error.code).toBe('unauthorized');
    // An ordinary user's key is no bot's; a bot of another provider is not Telegram's.
    const u = await v1().user('plain-user');
    const userKey = (await v1().post('/v1/api-keys', { name: 'k' }, u.token)).body.secret;
    expect((await as('1001', 'GET', '/stars/balance', undefined, userKey)).status).toBe(401);
    const vk = (await v1().post('/v1/admin/bots', { name: 'vk-bot', provider: 'vk' }, admin)).body.api_key.secret;
    expect((await as('1001', 'GET', '/stars/balance', undefined, vk)).status).toBe(401);
    expect((await as('has space', 'GET', '/stars/balance')).status).toBe(401);
    // The same pair works, and the user exists from first sight with the signup grant.
    expect((await as('1001', 'GET', '/stars/balance')).body).toEqual({ balance: 30, totalSpent: 0, totalBought: 0 });
    // The same paths under the main server's /compat/selfi.
    expect((await client(t.url).call('GET', '/compat/selfi/stars/balance', { headers: { 'x-user-id': '1001', 'x-auth-token': botKey } })).status).toBe(200);
  });

  it('upload: an image → a URL; a GIF 400 invalid_file_type; too large 413', async () => {
    const ok = await upload('2001', await image(1));
    expect(ok.status).toBe(200);
    expect(ok.body.url).toMatch(/\/uploads\/file_[a-z0-9]{20}$/);
    const gif = await upload('2001', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), 'x.gif');
    expect(gif.status).toBe(400);
    expect(gif.body.error.code).toBe('invalid_file_type');
    const huge = await upload('2001', Buffer.concat([await image(2), Buffer.alloc(70 * 1024)]), 'big.png');
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('file_too_large');
    const invalid = await as('2001', 'POST', '/training/start', { name: 'x', triggerWord: 'x', imageUrls: [], instancePrompt: 'p' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('invalid_parameters');
    // Another user's upload URL is not yours.
    const theirs = await as('2002', 'POST', '/training/start', { name: 'x', triggerWord: 'x', imageUrls: [ok.body.url], instancePrompt: 'p' });
    expect(theirs.status).toBe(400);
    expect(theirs.body.error.details.trainyard_code).toBe('UPLOAD_NOT_FOUND');
  });

  let mainLora: string;
  let blockerLora: string;

  it('training: PENDING → TRAINING → COMPLETED in /loras/me, WebSocket progress … completed, a real PNG preview, stars deducted', async () => {
    // Another user's gated training holds the one worker slot: ours is queued behind it.
    const blocker = await as('3001', 'POST', '/training/start', {
      name: 'Blocker',
      triggerWord: 'gatedblocker',
      imageUrls: await uploadSet('3001'),
      instancePrompt: 'a photo of gatedblocker',
      steps: 2,
    });
    expect(blocker.status, JSON.stringify(blocker.body)).toBe(200);
    blockerLora = blocker.body.modelId;
    await waitFor(
      () => status('3001', blockerLora),
      (s) => s.status === 'PROCESSING',
      { message: 'the blocker to run', timeoutMs: 20_000 },
    );
    // A socket open on it with a second key of the bot closes (4401, the document's
    // `unauthorized`) when that key is revoked while it is open.
    const second = await v1().post(`/v1/admin/service-accounts/${botId}/api-keys`, { name: 'second' }, admin);
    expect(second.status).toBe(201);
    const revoked = new WebSocket(`${base.replace('http', 'ws')}/training/${blockerLora}/ws`, {
      headers: { 'x-user-id': '3001', 'x-auth-token': second.body.secret },
    });
    const revokedClose = new Promise<[number, string]>((r) => revoked.on('close', (code, why) => r([code, String(why)])));
    await new Promise((resolve, reject) => revoked.once('message', resolve).once('error', reject));
    expect((await v1().del(`/v1/admin/service-accounts/${botId}/api-keys/${second.body.id}`, admin)).status).toBe(204);
    expect(await revokedClose).toEqual([4401, 'unauthorized']);

    const urls = await uploadSet('4001');
    const r = await as('4001', 'POST', '/training/start', {
      name: 'My face',
      triggerWord: 'gatedmain',
      imageUrls: urls,
      instancePrompt: 'a photo of gatedmain',
      steps: 8,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({ modelId: expect.stringMatching(/^lora_/), starsDeducted: 10, remainingStars: 20 });
    mainLora = r.body.modelId;
    expect(await myLora('4001', mainLora)).toMatchObject({
      name: 'My face',
      triggerWord: 'gatedmain',
      status: 'PENDING',
      previewImageUrl: null,
      isPublic: true,
    });
    expect(await status('4001', mainLora)).toEqual({ status: 'PENDING', progress: 0 });

    const messages: any[] = [];
    const ws = new WebSocket(`${base.replace('http', 'ws')}/training/${mainLora}/ws`, { headers: { 'x-user-id': '4001', 'x-auth-token': botKey } });
    ws.on('message', (m) => messages.push(JSON.parse(String(m))));
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));

    await open('gatedblocker', 1);
    // Held after its first round of samples (step 2 of 8): TRAINING, with that sample as the preview.
    const mid = await waitFor(
      () => status('4001', mainLora),
      (s) => s.status === 'PROCESSING' && !!s.previewImageUrl,
      {
        message: 'the first sample',
        timeoutMs: 20_000,
      },
    );
    expect(mid.progress).toBeGreaterThan(0);
    expect(mid.progress).toBeLessThan(100);
    expect((await fetchPng(mid.previewImageUrl)).subarray(0, 8).toString('hex')).toBe(PNG);
    expect(await myLora('4001', mainLora)).toMatchObject({ status: 'TRAINING', previewImageUrl: expect.any(String) });
    await waitFor(
      () => messages,
      (m) => m.some((x) => x.type === 'progress' && x.data.previewImageUrl),
      { message: 'a progress message with a preview' },
    );
    await open('gatedmain', 2, 4, 6);
    expect(await closed).toBe(1000);
    const types = messages.map((m) => m.type);
    expect(types.at(-1)).toBe('completed');
    expect(types.slice(0, -1).every((x) => x === 'progress')).toBe(true);
    const done = messages.at(-1);
    expect(done.data.progress).toBe(100);
    const png = await fetchPng(done.data.previewImageUrl);
    expect(png.subarray(0, 8).toString('hex')).toBe(PNG);
    expect(await myLora('4001', mainLora)).toMatchObject({ status: 'COMPLETED' });
    expect(await status('4001', mainLora)).toMatchObject({ status: 'COMPLETED', progress: 100, previewImageUrl: expect.any(String) });
    // Another user's LoRA is not found, in the document's code.
    const other = await as('3001', 'GET', `/training/${mainLora}/status`);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
    await waitFor(
      () => status('3001', blockerLora),
      (s) => s.status === 'COMPLETED',
      { message: 'the blocker to finish' },
    );
  }, 60_000);

  // The subscription's first read is held by a lock on job_events (Postgres: PGlite runs one
  // statement at a time, so the upgrade itself would wait), and the client goes meanwhile.
  it.runIf(TEST_DB === 'postgres')('a socket closed while its subscription starts leaves no subscriber behind', async () => {
    const hub = t.rt.services.hub!;
    const owner = (await t.testDb.db.query<{ owner_id: string }>('select owner_id from compat_selfi_loras where id = $1', [mainLora])).rows[0]!.owner_id;
    const before = hub.subscriberCount;
    let unlock!: () => void;
    const held = new Promise<void>((r) => (unlock = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const tx = t.testDb.db.transaction(async (q) => {
      await q.query('lock table job_events in access exclusive mode');
      locked();
      await held;
    });
    await isLocked;
    const ws = new WebSocket(`${base.replace('http', 'ws')}/training/${mainLora}/ws`, { headers: { 'x-user-id': '4001', 'x-auth-token': botKey } });
    await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));
    await waitFor(
      () => hub.subscriberCount,
      (n) => n === before + 1,
      { message: 'the subscription to start' },
    );
    ws.terminate();
    await waitFor(
      () => hub.slots.held(owner),
      (n) => n === 0,
      { message: 'the server to see the close' },
    );
    unlock();
    await tx;
    await waitFor(
      () => hub.subscriberCount,
      (n) => n === before,
      { message: 'the subscription to end' },
    );
  });

  it('generate with the LoRA: an image, one star, the seed; transactions show TRAINING and GENERATION', async () => {
    const before = (await as('4001', 'GET', '/stars/balance')).body;
    const g = await as('4001', 'POST', '/generate', { prompt: 'gatedmain on the moon', loraId: mainLora, seed: 77, baseModelId: 'stable-diffusion-v1-5' });
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    expect(g.body).toEqual({ id: expect.any(String), imageUrl: expect.any(String), starsUsed: 1, seed: 77 });
    expect((await fetchPng(g.body.imageUrl)).subarray(0, 8).toString('hex')).toBe(PNG);
    const after = (await as('4001', 'GET', '/stars/balance')).body;
    expect(after).toEqual({ balance: before.balance - 1, totalSpent: before.totalSpent + 1, totalBought: 0 });
    const tx = (await as('4001', 'GET', '/stars/transactions')).body;
    expect(tx.transactions.map((x: any) => [x.type, x.amount, x.status])).toEqual([
      ['GENERATION', -1, 'COMPLETED'],
      ['TRAINING', -10, 'COMPLETED'],
    ]);
    expect(tx.pagination).toEqual({ total: 2, pages: 1, current: 1 });
    const missing = await as('4001', 'POST', '/generate', { prompt: 'x', loraId: 'lora_nope', baseModelId: 'stable-diffusion-v1-5' });
    expect(missing.status).toBe(404);
    expect((await as('4001', 'POST', '/generate', { prompt: 'x', baseModelId: 'no-such-model' })).body.error.code).toBe('not_found');
    const failed = await as('4001', 'POST', '/generate', { prompt: 'please fail', baseModelId: 'stable-diffusion-v1-5' });
    expect(failed.status).toBe(500);
    expect(failed.body.error.code).toBe('generation_failed');
  }, 30_000);

  it('public LoRAs: newest and popular (generations) orderings, with totals', async () => {
    for (let i = 0; i < 2; i++)
      expect((await as('3001', 'POST', '/generate', { prompt: `gatedblocker ${i}`, loraId: blockerLora, baseModelId: 'stable-diffusion-v1-5' })).status).toBe(
        200,
      );
    const newest = (await as('5001', 'GET', '/loras/public')).body;
    expect(newest.loras.map((l: any) => l.id)).toEqual([mainLora, blockerLora]);
    expect(newest.pagination).toEqual({ total: 2, pages: 1, current: 1 });
    expect(newest.loras[0]).toMatchObject({ name: 'My face', isPublic: true, user: { username: 'telegram_4001' }, previewImageUrl: expect.any(String) });
    const popular = (await as('5001', 'GET', '/loras/public?sort=popular')).body;
    expect(popular.loras.map((l: any) => l.id)).toEqual([blockerLora, mainLora]);
    const page2 = (await as('5001', 'GET', '/loras/public?sort=popular&limit=1&page=2')).body;
    expect(page2).toMatchObject({ loras: [{ id: mainLora }], pagination: { total: 2, pages: 2, current: 2 } });
    expect((await as('5001', 'GET', '/loras/public?sort=oldest')).body.error.code).toBe('invalid_parameters');
  });

  it('a purchase recorded twice with one payment id counts once: totalBought and a PURCHASE entry', async () => {
    const buy = () =>
      v1().call('POST', '/v1/credits/purchases', { token: botKey, headers: { 'x-on-behalf-of': '6001' }, json: { credits: 50, payment_id: 'tg-charge-1' } });
    expect((await buy()).status).toBe(201);
    expect((await buy()).status).toBe(200);
    expect((await as('6001', 'GET', '/stars/balance')).body).toEqual({ balance: 80, totalSpent: 0, totalBought: 50 });
    const tx = (await as('6001', 'GET', '/stars/transactions?type=PURCHASE')).body;
    expect(tx.transactions).toEqual([{ id: expect.any(String), amount: 50, type: 'PURCHASE', status: 'COMPLETED', createdAt: expect.any(String) }]);
    expect(tx.pagination.total).toBe(1);
  });

  it('insufficient stars: 402 insufficient_stars for training and generation', async () => {
    const poorBot = (await v1().post('/v1/admin/bots', { name: 'poor-bot', provider: 'telegram', signup_grant: false }, admin)).body.api_key.secret;
    const urls: string[] = [];
    for (let i = 0; i < 10; i++) urls.push((await upload('7001', await image(i + 40), `p${i}.png`, poorBot)).body.url);
    const train = await as('7001', 'POST', '/training/start', { name: 'n', triggerWord: 'poor', imageUrls: urls, instancePrompt: 'a photo of poor' }, poorBot);
    expect(train.status).toBe(402);
    expect(train.body.error.code).toBe('insufficient_stars');
    const gen = await as('7001', 'POST', '/generate', { prompt: 'x', baseModelId: 'stable-diffusion-v1-5' }, poorBot);
    expect(gen.status).toBe(402);
    expect(gen.body.error.code).toBe('insufficient_stars');
    // No LoRA is left behind by a refused start.
    expect((await as('7001', 'GET', '/loras/me', undefined, poorBot)).body).toEqual({ loras: [] });
    // Nor the dataset, nor the images it fetched from elsewhere (each retry used to leave both).
    const stored = async () =>
      (
        await t.testDb.db.query<{ files: string; datasets: string }>(
          `select (select count(*) from files where source = 'import') as files, (select count(*) from datasets where name like 'selfi %') as datasets`,
        )
      ).rows[0]!;
    const before = await stored();
    const elsewhere = Array.from({ length: 10 }, (_, i) => `${originUrl}/photo-${i + 60}.png`);
    for (let attempt = 0; attempt < 2; attempt++) {
      const again = await as(
        '7001',
        'POST',
        '/training/start',
        { name: 'n', triggerWord: 'poor', imageUrls: elsewhere, instancePrompt: 'a photo of poor' },
        poorBot,
      );
      expect(again.status, JSON.stringify(again.body)).toBe(402);
    }
    expect(await stored()).toEqual(before);
  });

  it('a failed training is FAILED with its error and REFUNDED: a REFUND entry, the stars back', async () => {
    const r = await as('8001', 'POST', '/training/start', {
      name: 'Doomed',
      triggerWord: 'failme',
      imageUrls: await uploadSet('8001'),
      instancePrompt: 'a photo of failme',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.remainingStars).toBe(20);
    const s = await waitFor(
      () => status('8001', r.body.modelId),
      (x) => x.status === 'FAILED',
      { message: 'the failure', timeoutMs: 20_000 },
    );
    expect(s.error).toMatch(/out of memory/);
    expect(await myLora('8001', r.body.modelId)).toMatchObject({ status: 'FAILED' });
    const tx = (await as('8001', 'GET', '/stars/transactions')).body.transactions;
    expect(tx.map((x: any) => [x.type, x.amount, x.status])).toEqual([
      ['REFUND', 10, 'COMPLETED'],
      ['TRAINING', -10, 'REFUNDED'],
    ]);
    expect((await as('8001', 'GET', '/stars/transactions?type=REFUND')).body.transactions).toHaveLength(1);
    expect((await as('8001', 'GET', '/stars/balance')).body).toEqual({ balance: 30, totalSpent: 0, totalBought: 0 });
    // A failed LoRA is not public.
    expect((await as('8001', 'GET', '/loras/public')).body.loras.map((l: any) => l.id)).not.toContain(r.body.modelId);
  }, 30_000);

  it('a generation not ready within COMPAT_SELFI_GENERATE_WAIT: 504 generation_timeout, cancelled, its star refunded', async () => {
    const before = (await as('9001', 'GET', '/stars/balance')).body;
    const g = await as('9001', 'POST', '/generate', { prompt: 'slow sunset', baseModelId: 'stable-diffusion-v1-5' });
    expect(g.status).toBe(504);
    expect(g.body.error).toMatchObject({ code: 'generation_timeout', details: { id: expect.any(String) } });
    const tx = await waitFor(
      async () => (await as('9001', 'GET', '/stars/transactions')).body.transactions,
      (x: any[]) => x.some((e) => e.type === 'REFUND'),
      { message: 'the refund of the cancelled generation', timeoutMs: 20_000 },
    );
    expect(tx.map((x: any) => [x.type, x.amount, x.status])).toEqual([
      ['REFUND', 1, 'COMPLETED'],
      ['GENERATION', -1, 'REFUNDED'],
    ]);
    expect((await as('9001', 'GET', '/stars/balance')).body).toEqual(before);
  }, 30_000);
});

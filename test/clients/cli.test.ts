// The README's quick start, entirely through the `trainyard` client binary against a real
// server with a worker: login, upload, dataset, train, watch (in a pseudo-terminal), predict,
// download; then the rest of the commands, --json, resumed uploads and the error paths.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { signalCsv } from '../helpers/jobs.js';
import { waitFor, waitForJob } from '../helpers/wait.js';
import { cli, ensureBuilt, inPty, parseJson, requireScript } from './cli-helpers.js';

let t: TestApp;
let api: ReturnType<typeof client>;
let home: string;
let env: Record<string, string>;
const PASSWORD = 'analytical engine 1843';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** Escape sequences out, so the captured terminal reads as text. */
const plain = (s: string) => s.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g'), '');

// The README's quick start ("From the command line"), word for word where it writes files.
const EEG_CSV = `awk 'BEGIN { srand(7); print "alpha,beta,theta,state";
  for (i = 0; i < 2000; i++) { a = rand(); b = rand(); t = rand(); print a "," b "," t "," (a > b ? "rest" : "focus") } }' > eeg.csv`;
const JOB_YAML = `trainer: linear-classifier
dataset: eeg
model: brain-state
hyperparameters:
  epochs: 20
`;

/** Shared by the quick-start steps, in order. */
const qs: { fileId?: string; datasetId?: string; jobId?: string; key?: string } = {};

beforeAll(async () => {
  ensureBuilt();
  requireScript();
  t = await startTestApp({ env: { WORKER_POLL_MS: '50', SIGNUP_CREDIT_GRANT: '1000' } });
  api = client(t.url);
  home = await mkdtemp(path.join(tmpdir(), 'trainyard-cli-home-'));
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'LANG', 'TMPDIR']) if (process.env[k]) base[k] = process.env[k]!;
  env = { ...base, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), TRAINYARD_URL: t.url };
}, 180_000);

afterAll(async () => {
  await t?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('the quick start through the CLI', () => {
  it('signup and login store an API key in a config file only its owner can read; whoami uses it', async () => {
    const s = await cli(['signup', '--username', 'ada', '--email', 'ada@example.com', '--password-stdin'], env, `${PASSWORD}\n`);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain('logged in');
    const r = await cli(['login', '--username', 'ada', '--password-stdin'], env, `${PASSWORD}\n`);
    expect(r.code, r.stderr).toBe(0);
    const dir = path.join(home, '.config/trainyard');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, 'config.json'))).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    expect(stored).toMatchObject({ url: t.url, username: 'ada' });
    expect(stored.api_key).toMatch(/\S{20,}/);
    qs.key = stored.api_key;
    // Logging in again replaced the key signup stored: one key for this machine.
    expect((await api.get('/v1/api-keys', qs.key)).body.data).toHaveLength(1);
    const who = await cli(['whoami'], env);
    expect(who.code).toBe(0);
    expect(who.stdout).toMatch(/username:\s+ada/);
    expect(parseJson(await cli(['whoami', '--json'], env))).toMatchObject({ username: 'ada', url: t.url });
  });

  it('upload sends a file through a pre-signed URL and prints its id', async () => {
    expect(spawnSync('sh', ['-c', EEG_CSV], { cwd: home }).status).toBe(0);
    const r = await cli(['upload', path.join(home, 'eeg.csv'), '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const [f] = parseJson(r).data;
    expect(f).toMatchObject({ filename: 'eeg.csv', resumed: false, sha256: sha256(await readFile(path.join(home, 'eeg.csv'))) });
    qs.fileId = f.id;
    expect((await api.get(`/v1/files/${f.id}`, qs.key)).body).toMatchObject({ id: f.id, bytes: f.bytes });
    // Nothing is left pending.
    expect(JSON.parse(await readFile(path.join(home, '.config/trainyard/uploads.json'), 'utf8'))).toEqual({});
  });

  it('datasets create (from the uploaded file, not sent twice) waits for validation; trainers list and show', async () => {
    const r = await cli(
      ['datasets', 'create', '--name', 'eeg', '--kind', 'tabular-csv', '--file', path.join(home, 'eeg.csv'), '--label', 'state', '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const ds = parseJson(r);
    expect(ds).toMatchObject({ name: 'eeg', status: 'ready', file_ids: [qs.fileId], stats: { row_count: 2000 } });
    expect((await api.get('/v1/files', qs.key)).body.data).toHaveLength(1);
    qs.datasetId = ds.id;
    expect((await cli(['datasets', 'list'], env)).stdout).toMatch(new RegExp(`${ds.id}\\s+eeg\\s+tabular-csv\\s+ready`));
    const trainers = await cli(['trainers', 'list'], env);
    expect(trainers.stdout).toMatch(/linear-classifier\s+tabular-classification\s+true/);
    const show = await cli(['trainers', 'show', 'linear-classifier'], env);
    expect(show.code).toBe(0);
    // The hyperparameters as a table: name, type, default, range.
    expect(show.stdout).toMatch(/NAME\s+TYPE\s+DEFAULT\s+RANGE/);
    expect(show.stdout).toMatch(/epochs\s+integer\s+100\s+1\.\.10000/);
  });

  it('train from a YAML job file shows the price; without a terminal it needs --yes', async () => {
    const job = path.join(home, 'job.yaml');
    await writeFile(job, JOB_YAML);
    const refused = await cli(['train', job], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/trainyard: USAGE: linear-classifier on ds_\w+ → model "brain-state": \d+ credits \(balance 1000\)/);
    expect(refused.stderr).toContain('--yes');
    expect((await api.get('/v1/jobs', qs.key)).body.data).toHaveLength(0);

    const r = await cli(['train', job, '--yes', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const created = parseJson(r);
    expect(created).toMatchObject({
      trainer: 'linear-classifier',
      dataset_id: qs.datasetId,
      hyperparameters: { epochs: 20 },
      output: { model_name: 'brain-state' },
    });
    // The price asked is the price held: the quote route prices it as creation does.
    const quote = await api.post(
      '/v1/jobs/quote',
      { trainer: 'linear-classifier', dataset_id: qs.datasetId, hyperparameters: { epochs: 20 }, output: { model_name: 'brain-state' } },
      qs.key,
    );
    expect(quote.status).toBe(200);
    expect(quote.body).toMatchObject({ trainer: 'linear-classifier', cost: created.cost, hyperparameters: { epochs: 20, learning_rate: 0.1 } });
    expect(refused.stderr).toContain(`: ${created.cost} credits`);
    qs.jobId = created.id;
  });

  it('watch draws a progress bar with ETA, the metrics and a loss chart in a terminal, and exits 0 on success', async () => {
    const { code, out } = await inPty(['watch', qs.jobId!], env).done;
    const text = plain(out);
    expect(code, text).toBe(0);
    expect(text).toMatch(/\d+% \| step \d+\/\d+/);
    expect(text).toContain('ETA');
    expect(text).toMatch(/metrics\s+loss=[\d.]+\s+accuracy=/);
    expect(text).toMatch(/loss\s+[▁▂▃▄▅▆▇█]{5,} [\d.]+/);
    expect(text).toContain('100%');
    expect(text).toMatch(/succeeded: model brain-state/);
    // Redrawn in place: the cursor moves back up over the three lines.
    expect(out).toContain(`${String.fromCharCode(27)}[3A`);
    expect((await api.get(`/v1/jobs/${qs.jobId}`, qs.key)).body.status).toBe('succeeded');
  });

  it('models versions, predict and download: the files are the artifacts, byte for byte', async () => {
    const versions = parseJson(await cli(['models', 'versions', 'brain-state', '--json'], env));
    expect(versions.data).toHaveLength(1);
    expect(versions.data[0].metrics.val_accuracy).toBeGreaterThan(0.8);
    const p = await cli(['models', 'predict', 'brain-state', '--input', '[{"alpha":0.9,"beta":0.1,"theta":0.5},{"alpha":0.1,"beta":0.9,"theta":0.5}]'], env);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/1\s+rest\s+\d\.\d{3}/);
    expect(p.stdout).toMatch(/2\s+focus\s+\d\.\d{3}/);
    const out = path.join(home, 'model');
    const d = await cli(['models', 'download', 'brain-state', '--out', out, '--json'], env);
    expect(d.code, d.stderr).toBe(0);
    const files = parseJson(d).files as Array<{ artifact: string; path: string; sha256: string; bytes: number }>;
    expect(files.map((f) => f.artifact).sort()).toEqual((versions.data[0].artifacts as Array<{ name: string }>).map((a) => a.name).sort());
    for (const f of files) {
      const bytes = await readFile(f.path);
      const a = await api.get(`/v1/models/brain-state/versions/1/artifacts/${f.artifact}`, qs.key);
      expect(bytes.length).toBe(a.body.bytes);
      expect(sha256(bytes)).toBe(a.body.sha256);
    }
  });

  it('jobs list, show and logs; credits', async () => {
    expect((await cli(['jobs', 'list'], env)).stdout).toMatch(new RegExp(`${qs.jobId}\\s+linear-classifier\\s+succeeded\\s+100%\\s+brain-state`));
    expect(parseJson(await cli(['jobs', 'show', qs.jobId!, '--json'], env))).toMatchObject({ id: qs.jobId, status: 'succeeded' });
    const logs = await cli(['jobs', 'logs', qs.jobId!], env);
    // Each line with its time (the rows of /logs carry `at`).
    expect(logs.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z info training on \d+ rows/m);
    // -f on a finished job prints its whole log and exits with its outcome.
    const follow = await cli(['jobs', 'logs', '-f', qs.jobId!], env);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toMatch(/training on \d+ rows/);
    // watch without a terminal: plain lines, never the same one twice, and the outcome.
    const w = await cli(['watch', qs.jobId!], env);
    expect(w.code).toBe(0);
    const lines = w.stdout.trim().split('\n');
    expect(lines.at(-2)).toMatch(/^succeeded .* 100% \| step (\d+)\/\1 epoch 20 \| ETA .* \| metrics loss=.* \| loss [▁▂▃▄▅▆▇█]+ [\d.]+$/);
    expect(lines.at(-1)).toMatch(/^succeeded: model brain-state/);
    expect(new Set(lines).size).toBe(lines.length);
    const credits = parseJson(await cli(['credits', '--json'], env));
    const job = (await api.get(`/v1/jobs/${qs.jobId}`, qs.key)).body;
    expect(credits).toMatchObject({ balance: 1000 - job.cost, held: 0 });
  });
});

describe('at a terminal', () => {
  /** Waits until the terminal shows `text`, then types `keys`. */
  async function answer(session: ReturnType<typeof inPty>, text: string, keys: string) {
    await waitFor(session.output, (o) => o.includes(text), { timeoutMs: 30_000, message: `the terminal to show ${JSON.stringify(text)}` });
    session.type(keys);
  }

  it('login asks for the password without echoing it', async () => {
    const other = { ...env, XDG_CONFIG_HOME: path.join(home, 'other-config') };
    const s = inPty(['login', '--username', 'ada'], other);
    await answer(s, 'Password: ', `${PASSWORD}\r`);
    const { code, out } = await s.done;
    expect(code, out).toBe(0);
    expect(out).toContain('logged in');
    expect(out).not.toContain(PASSWORD);
    expect(parseJson(await cli(['whoami', '--json'], other))).toMatchObject({ username: 'ada' });
  });

  it('train shows the price and asks; n starts nothing, y starts the job', async () => {
    const args = ['train', '--trainer', 'linear-classifier', '--dataset', qs.datasetId!, '--model', 'asked', '--hp', 'epochs=5'];
    const no = inPty(args, env);
    await answer(no, '[y/N]', 'n\r');
    const declined = await no.done;
    expect(declined.code).toBe(1);
    expect(plain(declined.out)).toMatch(/linear-classifier on ds_\w+ → model "asked": \d+ credits \(balance \d+\)/);
    expect(plain(declined.out)).toContain('trainyard: DECLINED');
    expect((await api.get('/v1/jobs?model_name=asked', qs.key)).body.data).toHaveLength(0);

    const yes = inPty([...args, '--watch'], env);
    await answer(yes, '[y/N]', 'y\r');
    const accepted = await yes.done;
    // --watch: followed to the end, exit status the outcome.
    expect(accepted.code, plain(accepted.out)).toBe(0);
    expect(plain(accepted.out)).toMatch(/succeeded: model asked/);
  });

  it('upload draws a progress bar per file', async () => {
    const files = ['a.csv', 'b.csv'].map((n) => path.join(home, n));
    for (const [i, f] of files.entries()) await writeFile(f, signalCsv(2000, 100 + i));
    const { code, out } = await inPty(['upload', ...files], env).done;
    expect(code, out).toBe(0);
    const text = plain(out);
    for (const n of ['a.csv', 'b.csv']) expect(text).toMatch(new RegExp(`100% \\| ${n.replace('.', '\\.')} \\| [\\d.]+ KiB/[\\d.]+ KiB`));
  });
});

describe('the rest of the client', () => {
  it('cancel: watch exits 3 when the job it follows is cancelled', async () => {
    const r = await cli(
      ['train', '--trainer', 'linear-classifier', '--dataset', qs.datasetId!, '--model', 'long', '--hp', 'epochs=10000', '--yes', '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const id = parseJson(r).id as string;
    let seen = '';
    const watching = inPty(['watch', id], env, (all) => (seen = all));
    // Cancel once watch shows the job training, so it saw it running and then the cancel.
    await waitFor(
      () => plain(seen),
      (s) => /running .*step \d+/.test(s),
      { timeoutMs: 60_000, message: 'watch to show the job running' },
    );
    const c = await cli(['jobs', 'cancel', id], env);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`${id}: (cancel_requested|cancelled)`));
    const { code, out } = await watching.done;
    expect(code, plain(out)).toBe(3);
    expect(plain(out)).toMatch(/cancelled/);
    expect((await waitForJob(api, qs.key!, id)).status).toBe('cancelled');
  });

  it('watch resumes with Last-Event-ID when its connection drops, past a 502 on the way: no event lost or seen twice', async () => {
    // A proxy in front of the server cuts the first event stream right after its first progress
    // frame and answers the next events request itself with a 502 (a proxy's blip); everything
    // else passes through untouched.
    const upstream = new URL(t.url);
    const requests: string[] = [];
    let cut = false;
    let blipped = false;
    const proxy = createServer((down) => {
      const up = connect(Number(upstream.port), upstream.hostname);
      let isEvents = false;
      down.on('data', (d: Buffer) => {
        const text = d.toString('latin1');
        if (/^GET \/v1\/jobs\/[^/]+\/events/m.test(text)) {
          isEvents = true;
          requests.push(text);
          if (cut && !blipped) {
            blipped = true;
            down.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 11\r\nconnection: close\r\n\r\nBad Gateway');
            up.destroy();
            return;
          }
        }
        up.write(d);
      });
      up.on('data', (d: Buffer) => {
        const text = d.toString('latin1');
        const at = text.indexOf('event: progress');
        if (isEvents && !cut && at >= 0) {
          cut = true;
          down.end(d.subarray(0, text.indexOf('\n\n', at) + 2));
          down.destroy();
          up.destroy();
          return;
        }
        down.write(d);
      });
      const close = () => {
        up.destroy();
        down.destroy();
      };
      up.on('error', close).on('close', close);
      down.on('error', close).on('close', close);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const via = { ...env, TRAINYARD_URL: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` };
      const r = await cli(
        ['train', '--trainer', 'linear-classifier', '--dataset', qs.datasetId!, '--model', 'resumed', '--hp', 'epochs=400', '--yes', '--watch', '--json'],
        via,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(cut).toBe(true);
      expect(blipped).toBe(true);
      // --json: one event a line, then the exit status is the outcome.
      const seqs = r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq);
      // Exactly the job's events, in order: none lost at the cut, none repeated after it.
      const [job] = (await api.get('/v1/jobs?model_name=resumed', qs.key)).body.data;
      const all = (await api.get(`/v1/jobs/${job.id}/events?limit=1000`, qs.key)).body.data as Array<{ seq: number }>;
      expect(seqs).toEqual(all.map((e) => e.seq));
      // The stream after the 502 asked to resume after the last event the first one delivered.
      expect(requests.length).toBeGreaterThanOrEqual(3);
      const resumedAfter = Number(/last-event-id: (\d+)/i.exec(requests[2]!)?.[1]);
      expect(seqs).toContain(resumedAfter);
      expect(resumedAfter).toBeLessThan(seqs.at(-1)!);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('a re-run of upload completes the pending upload an interrupted run left', async () => {
    // An interrupted run leaves what the first run wrote: the pending upload in uploads.json.
    // Case 1: the bytes arrived, only completion is missing. Case 2: nothing arrived yet.
    const state: Record<string, unknown> = {};
    const cases = [];
    for (const [name, putBytes] of [
      ['sent.csv', true],
      ['unsent.csv', false],
    ] as const) {
      const content = signalCsv(50, name.length);
      const file = path.join(home, name);
      await writeFile(file, content);
      const sha = sha256(content);
      const ticket = await api.post('/v1/uploads', { filename: name, bytes: Buffer.byteLength(content), sha256: sha }, qs.key);
      expect(ticket.status).toBe(201);
      if (putBytes) expect((await fetch(ticket.body.upload_url, { method: 'PUT', body: content })).status).toBeLessThan(300);
      state[sha] = {
        server: t.url,
        file_id: ticket.body.file_id,
        upload_url: ticket.body.upload_url,
        expires_at: ticket.body.expires_at,
        filename: name,
        bytes: Buffer.byteLength(content),
      };
      cases.push({ file, id: ticket.body.file_id as string });
    }
    await writeFile(path.join(home, '.config/trainyard/uploads.json'), JSON.stringify(state));
    const r = await cli(['upload', ...cases.map((c) => c.file), '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const out = parseJson(r).data as Array<{ id: string; resumed: boolean }>;
    expect(out).toEqual(cases.map((c) => expect.objectContaining({ id: c.id, resumed: true })));
    // Completed: the file is listed among the user's files (pending uploads are not).
    const listed = (await api.get('/v1/files?limit=100', qs.key)).body.data.map((f: { id: string }) => f.id);
    for (const c of cases) expect(listed).toContain(c.id);
    expect(JSON.parse(await readFile(path.join(home, '.config/trainyard/uploads.json'), 'utf8'))).toEqual({});
  });

  it('errors: a bad API key, an unknown job, a bad flag', async () => {
    const bad = await cli(['whoami'], { ...env, TRAINYARD_API_KEY: 'not-a-key' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^trainyard: INVALID_TOKEN: .*trainyard login/m);
    const missing = await cli(['jobs', 'show', 'job_nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^trainyard: JOB_NOT_FOUND: /m);
    const flag = await cli(['jobs', 'list', '--frobnicate'], env);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--frobnicate'");
    const down = await cli(['credits'], { ...env, TRAINYARD_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^trainyard: UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:9/m);
    // --help documents the exit statuses, on every command.
    for (const cmd of [['watch'], ['jobs', 'logs'], ['upload']]) {
      const help = await cli([...cmd, '--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout.replace(/\s+/g, ' ')).toContain('watch, train --watch and jobs logs -f: 0 succeeded, 1 failed, 3 cancelled');
    }
  });

  it('the quote route checks the job as creation does', async () => {
    const r = await api.post('/v1/jobs/quote', { trainer: 'no-such-trainer', dataset_id: qs.datasetId, output: { model_name: 'x' } }, qs.key);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('UNKNOWN_TRAINER');
    const bad = await api.post(
      '/v1/jobs/quote',
      { trainer: 'linear-classifier', dataset_id: qs.datasetId, hyperparameters: { epochs: 0 }, output: { model_name: 'x' } },
      qs.key,
    );
    expect([400, 422]).toContain(bad.status);
    // Nothing was held for either.
    expect((await api.get('/v1/credits/balance', qs.key)).body.held).toBe(0);
  });

  it('logout revokes the stored key', async () => {
    const r = await cli(['logout'], env);
    expect(r.code, r.stderr).toBe(0);
    expect((await api.get('/v1/me', qs.key)).status).toBe(401);
    expect((await cli(['whoami'], env)).code).toBe(1);
  });
});

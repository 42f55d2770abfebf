import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { csvDataset, signalCsv, testTrainers } from '../helpers/jobs.js';
import { waitForJob } from '../helpers/wait.js';

// Issue #10: bytes swapped behind a ready dataset must never reach a trainer.

let t: TestApp;
let api: ReturnType<typeof client>;
let marker: string;
const logs: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'trainyard-integrity-'));
  marker = path.join(dataDir, 'trainer-ran');
  // A trainer whose only act is to leave a mark: if the mark exists, a trainer saw the data.
  const mark = {
    ...(testTrainers().trainers[0] as Record<string, unknown>),
    id: 'mark',
    runtime: { type: 'command', entry: 'mark', command: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`] },
  };
  await writeFile(path.join(dataDir, 'catalog.json'), JSON.stringify({ trainers: [mark] }));
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  t = await startTestApp({ dataDir, logger, env: { WORKER_POLL_MS: '50', SIGNUP_CREDIT_GRANT: '100' } });
  api = client(t.url);
});
afterAll(() => t.close());

describe('staging checks each file against its recorded sha256', () => {
  it('fails the job with DATASET_INTEGRITY_ERROR, refunds it, logs it, and never starts the trainer', async () => {
    const alice = await api.user('alice');
    const csv = signalCsv(200, 3);
    const ds = await csvDataset(api, alice.token, 'signal', csv);
    const [fileId] = (await api.get(`/v1/datasets/${ds}`, alice.token)).body.file_ids as string[];
    const recorded = (await api.get(`/v1/files/${fileId}`, alice.token)).body.sha256 as string;

    // Same size, other labels, written straight into storage behind the ready dataset.
    const swapped = csv.replace(/,red\n/g, ',ted\n');
    expect(swapped.length).toBe(csv.length);
    await t.rt.services.store.put(`files/${alice.id}/${fileId!}`, Readable.from([Buffer.from(swapped)]));
    const actual = createHash('sha256').update(swapped).digest('hex');

    const before = (await api.get('/v1/credits/balance', alice.token)).body;
    const r = await api.post('/v1/jobs', { trainer: 'mark', dataset_id: ds, output: { model_name: 'm' } }, alice.token);
    expect(r.status).toBe(202);
    const job = await waitForJob(api, alice.token, r.body.id);
    expect(job.status).toBe('failed');
    expect(job.error.code).toBe('DATASET_INTEGRITY_ERROR');
    expect(job.error.message).toContain(fileId);

    const after = (await api.get('/v1/credits/balance', alice.token)).body;
    expect(after).toMatchObject({ balance: before.balance, held: 0 });
    expect(existsSync(marker)).toBe(false);

    const line = logs.find((l) => l.msg === 'dataset integrity error');
    expect(line).toMatchObject({ level: 50, job: r.body.id, file_id: fileId, expected_sha256: recorded, actual_sha256: actual });
  });
});

import { describe, expect, it } from 'vitest';
import { CLIENT_COMMANDS } from '../../src/cli/client/commands.js';
import { buildProgram } from '../../src/cli/client/index.js';
import { parseKeyValues } from '../../src/cli/client/catalog.js';
import { jobBody } from '../../src/cli/client/jobs.js';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { download } from '../../src/cli/client/models.js';
import { bar, sparkline, View } from '../../src/cli/client/watch.js';

// The client's pure parts; test/clients/cli.test.ts runs the binary against a real server.
describe('the command-line client', () => {
  it('main.ts routes exactly the commands the client defines', () => {
    expect(new Set(buildProgram().commands.map((c) => c.name()))).toEqual(CLIENT_COMMANDS);
  });

  it('draws the loss as unicode blocks between its min and max, and a bar by fraction', () => {
    expect(sparkline([4, 3, 2, 1])).toBe('█▆▃▁');
    expect(sparkline([1, 1])).toBe('▄▄');
    expect(
      sparkline(
        Array.from({ length: 100 }, (_, i) => i),
        40,
      ),
    ).toHaveLength(40);
    expect(bar(0.5, 10)).toBe('█████░░░░░');
    expect(bar(2, 4)).toBe('████');
  });

  it('reads key=value flags as JSON where they parse, else as strings', () => {
    expect(parseKeyValues(['epochs=20', 'lr=0.1', 'name=abc', 'on=true', 'eq=a=b'])).toEqual({ epochs: 20, lr: 0.1, name: 'abc', on: true, eq: 'a=b' });
    expect(() => parseKeyValues(['nokey'])).toThrow(/key=value/);
  });

  it('builds the job from flags alone, and says which is missing', async () => {
    expect(await jobBody({ trainer: 'linear-classifier', dataset: 'eeg', model: 'm', hp: ['epochs=3'] })).toEqual({
      trainer: 'linear-classifier',
      dataset_id: 'eeg',
      output: { model_name: 'm' },
      hyperparameters: { epochs: 3 },
    });
    await expect(jobBody({ trainer: 'x', dataset: 'd' })).rejects.toThrow(/--model/);
  });

  it('estimates the time left from the events’ own times: a backlog replayed at once keeps its real pace', () => {
    const v = new View();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    // Attached at step 500 of 1000 to a job moving 10 steps a second: the backlog arrives in one go.
    for (let step = 0; step <= 500; step += 50) {
      v.apply({ seq: step + 1, type: 'progress', data: { step, total_steps: 1000 }, created_at: new Date(t0 + step * 100).toISOString() });
    }
    expect(v.eta(Date.now())).toBeCloseTo(50, 0);
    // The estimate counts down between events, by this machine's clock only.
    expect(v.eta(Date.now() + 20_000)).toBeCloseTo(30, 0);
    expect(v.eta(Date.now() + 90_000)).toBe(0);
  });

  it('a download cut mid-body fails DOWNLOAD_INTERRUPTED and leaves no file, partial or whole', async () => {
    const body = Buffer.alloc(200_000, 7);
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, 50_000), () => res.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-cli-dl-'));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/model`;
      const sha256 = createHash('sha256').update(body).digest('hex');
      await expect(download(url, path.join(dir, 'model.bin'), { bytes: body.length, sha256 })).rejects.toMatchObject({ code: 'DOWNLOAD_INTERRUPTED' });
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

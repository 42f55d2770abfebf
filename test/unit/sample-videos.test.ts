import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoSet } from '../../src/samples/videos.js';

// The sample route waits on ffmpeg; a stuck or failing one must end the request with a clear
// error. Stand-in ffmpegs (shell scripts) hang or fail on purpose.
let dir: string;

async function fakeFfmpeg(name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\necho $$ >> "${file}.pids"\n${body}\n`);
  await chmod(file, 0o700);
  return file;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'trainyard-fake-ffmpeg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('videoSet with an ffmpeg that misbehaves', () => {
  it('kills a hung ffmpeg after the timeout and rejects with SAMPLE_ENCODE_TIMEOUT (503)', async () => {
    const ffmpeg = await fakeFfmpeg('hang', 'exec sleep 60');
    const started = Date.now();
    await expect(videoSet(1, 1, { ffmpeg, timeoutMs: 300 })).rejects.toMatchObject({ code: 'SAMPLE_ENCODE_TIMEOUT', status: 503 });
    expect(Date.now() - started).toBeLessThan(20_000);
    // Both runs (the encoder list, then the clip) were started, and none is left running.
    const pids = (await readFile(`${ffmpeg}.pids`, 'utf8')).trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('turns a failing ffmpeg into SAMPLE_ENCODE_FAILED (503) with its message, not a 500', async () => {
    const ffmpeg = await fakeFfmpeg('fail', 'echo "Unknown encoder" >&2\nexit 3');
    await expect(videoSet(1, 1, { ffmpeg, timeoutMs: 5_000 })).rejects.toMatchObject({
      code: 'SAMPLE_ENCODE_FAILED',
      status: 503,
      message: expect.stringContaining('ffmpeg exited 3: Unknown encoder'),
    });
  });
});

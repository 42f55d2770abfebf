import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobFile, openJobFile } from '../../src/worker/job-file.js';

// What the worker's sink and the cluster launcher may upload for a trainer's checkpoint or
// sample event: a regular file whose real path is inside the job's folders.
let root: string;
let out: string;
let ck: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'trainyard-job-file-'));
  out = path.join(root, 'output');
  ck = path.join(root, 'checkpoints');
  await mkdir(out);
  await mkdir(path.join(ck, 'sub'), { recursive: true });
  await writeFile(path.join(root, 'secret'), 'outside');
  await writeFile(path.join(ck, 'step-1.pt'), '12345');
  await writeFile(path.join(out, 'model.bin'), 'm');
  await symlink('step-1.pt', path.join(ck, 'latest'));
  await symlink(path.join(root, 'secret'), path.join(ck, 'escape'));
  await symlink(path.join(out, 'model.bin'), path.join(ck, 'to-output'));
  await symlink(root, path.join(ck, 'up'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('jobFile', () => {
  it('takes files inside either folder, links among them too, with their real path and size', async () => {
    expect(await jobFile(ck, 'step-1.pt', [ck, out])).toEqual({ file: path.join(ck, 'step-1.pt'), bytes: 5 });
    expect(await jobFile(ck, path.join(ck, 'latest'), [ck, out])).toEqual({ file: path.join(ck, 'step-1.pt'), bytes: 5 });
    expect(await jobFile(ck, 'to-output', [ck, out])).toEqual({ file: path.join(out, 'model.bin'), bytes: 1 });
  });

  it('refuses links and paths out of the folders, folders, and what is missing', async () => {
    for (const p of ['escape', 'up/secret', '../secret', path.join(root, 'secret'), 'sub', 'missing.pt', ''])
      expect(await jobFile(ck, p, [ck, out]), p).toBeNull();
    // A link into the output folder counts only when that folder is one of the roots.
    expect(await jobFile(ck, 'to-output', [ck])).toBeNull();
  });
});

describe('openJobFile', () => {
  it('opens what jobFile takes, checked again on the open file, and refuses the rest', async () => {
    const got = await openJobFile(ck, 'latest', [ck, out]);
    expect(got).toMatchObject({ file: path.join(ck, 'step-1.pt'), bytes: 5 });
    expect((await got!.handle.readFile('utf8')).toString()).toBe('12345');
    await got!.handle.close();
    for (const p of ['escape', 'up/secret', '../secret', 'sub', 'missing.pt']) expect(await openJobFile(ck, p, [ck, out]), p).toBeNull();
  });
});

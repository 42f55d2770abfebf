import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import yauzl from 'yauzl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_VALIDATION_LIMITS, validateDataset } from '../../src/domain/datasets/validate/index.js';
import { mediaTool } from '../../src/media/tools.js';
import { makeSample } from '../../src/samples/index.js';
import { client, startTestApp, type TestApp } from '../helpers/app.js';
import { waitForDataset } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const MAIN = path.resolve('src/main.ts');
const run = promisify(execFile);

let t: TestApp;
let api: ReturnType<typeof client>;
let alice: Awaited<ReturnType<ReturnType<typeof client>['user']>>;
let work: string;

/** A real clip, made by the same npm ffmpeg the sample uses (lavfi's test pattern, no input file). */
async function clip(name: string, opts: { seconds?: number; size?: string; frames?: number } = {}): Promise<Buffer> {
  const out = path.join(work, name);
  const codec = name.endsWith('.webm') ? ['-c:v', 'libvpx', '-b:v', '200k'] : ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'];
  const src = `testsrc=size=${opts.size ?? '32x32'}:rate=8:duration=${opts.seconds ?? 1}`;
  const frames = opts.frames !== undefined ? ['-frames:v', String(opts.frames)] : [];
  await run(await mediaTool('ffmpeg'), ['-v', 'error', '-f', 'lavfi', '-i', src, ...frames, ...codec, '-y', out]);
  return readFile(out);
}

async function fileId(name: string, content: Buffer | string): Promise<string> {
  const r = await api.upload(alice.token, name, content);
  if (r.status !== 201) throw new Error(`upload ${name}: ${JSON.stringify(r.body)}`);
  return r.body.id;
}

async function videoSet(name: string, fileIds: string[]) {
  const r = await api.post('/v1/datasets', { name, kind: 'video-set', file_ids: fileIds }, alice.token);
  if (r.status !== 201) throw new Error(`create ${name}: ${JSON.stringify(r.body)}`);
  return waitForDataset(api, alice.token, r.body.id);
}

const issue = (code: string, line: number, extra: Record<string, unknown> = {}) => expect.objectContaining({ code, line, ...extra });

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'trainyard-video-test-'));
  t = await startTestApp({ env: { DATASET_MAX_VIDEOS: '7', DATASET_MAX_VIDEO_SECONDS: '2' } });
  api = client(t.url);
  alice = await api.user('alice');
});
afterAll(async () => {
  await t?.close();
  await rm(work, { recursive: true, force: true });
});

describe('sample-data videos', () => {
  it('becomes a ready video-set with per-class counts, captions and every clip probed', async () => {
    const r = await api.post('/v1/datasets/samples', { kind: 'videos', size: 2, seed: 11 }, alice.token);
    expect(r.status).toBe(201);
    const ds = await waitForDataset(api, alice.token, r.body.id);
    expect(ds).toMatchObject({ kind: 'video-set', status: 'ready', error_count: 0, file_count: 1 });
    expect(ds.stats).toMatchObject({
      manifest: 'manifest.csv',
      columns: ['file', 'label', 'caption'],
      video_count: 6,
      total_duration_s: 6,
      labeled: 6,
      captioned: 6,
      class_counts: { red_right: 2, blue_down: 2, green_still: 2 },
      resolutions: { '64x64': 6 },
      codecs: { h264: 6 },
      containers: { mp4: 6 },
      unlisted_videos: 0,
    });
    expect(ds.stats.videos).toHaveLength(6);
    for (const v of ds.stats.videos) {
      expect(v).toEqual({
        file: expect.stringMatching(/^clips\/(red_right|blue_down|green_still)_00[12]\.mp4$/),
        container: 'mp4',
        codec: 'h264',
        width: 64,
        height: 64,
        duration_s: 1,
        frames: 16,
      });
    }
    // Another user cannot see it.
    const bob = await api.user('bob');
    expect((await api.get(`/v1/datasets/${ds.id}`, bob.token)).status).toBe(404);
  });

  it('the CLI writes the zip the API makes for that seed, with captions that say colour and motion', async () => {
    const out = path.join(work, 'cli');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'sample-data', 'videos', '--size', '1', '--seed', '5', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code, output).toBe(0);
    expect(output).toContain('"video-set"');
    const zip = await yauzl.openPromise(path.join(out, 'videos.zip'), { lazyEntries: true });
    const entries: Record<string, string> = {};
    for await (const e of zip.eachEntry()) {
      const chunks: Buffer[] = [];
      for await (const c of await zip.openReadStreamPromise(e)) chunks.push(c as Buffer);
      entries[e.fileName] = e.fileName.endsWith('.csv') ? Buffer.concat(chunks).toString() : String(Buffer.concat(chunks).length);
    }
    zip.close();
    expect((await makeSample('videos', 1, 5)).files[0]!.data.equals(await readFile(path.join(out, 'videos.zip')))).toBe(true);
    expect(Object.keys(entries).sort()).toEqual(['clips/blue_down_001.mp4', 'clips/green_still_001.mp4', 'clips/red_right_001.mp4', 'manifest.csv']);
    const lines = entries['manifest.csv']!.trim().split('\n');
    expect(lines[0]).toBe('file,label,caption');
    expect(lines.slice(1).map((l) => l.split(',').slice(1).join(','))).toEqual([
      expect.stringMatching(/^red_right,a red square moves to the right /),
      expect.stringMatching(/^blue_down,a blue square moves down /),
      expect.stringMatching(/^green_still,a green square stays still /),
    ]);
  });
});

describe('video-set refusals', () => {
  it('lists each bad manifest row of a zip with its code and line', async () => {
    const good = await clip('good.mp4');
    const manifest = [
      'file,label,caption',
      'clips/good.mp4,red,',
      'clips/notes.mp4,red,',
      'clips/empty.mp4,red,',
      'clips/gone.mp4,red,',
      'clips/good2.mp4,,',
      'clips/good.mp4,blue,',
      'clips/film.avi,red,',
    ].join('\n');
    // All under one top-level folder, as zipping a folder makes it.
    const zip = makeZip([
      { name: 'set/manifest.csv', data: Buffer.from(manifest) },
      { name: 'set/clips/good.mp4', data: good, method: 'store' },
      { name: 'set/clips/good2.mp4', data: good, method: 'store' },
      { name: 'set/clips/notes.mp4', data: Buffer.from('these are my notes, not a video\n') },
      { name: 'set/clips/empty.mp4', data: await clip('empty.mp4', { frames: 0 }), method: 'store' },
    ]);
    const id = await fileId('bad.zip', zip);
    const ds = await videoSet('bad-rows', [id]);
    expect(ds.status).toBe('error');
    expect(ds.error_count).toBe(6);
    expect(ds.errors).toEqual([
      issue('ROW_NO_TARGET', 6, { file_id: id, entry: 'set/manifest.csv' }),
      issue('VIDEO_FILE_MISSING', 5, { file_id: id, entry: 'set/manifest.csv', message: expect.stringContaining('clips/gone.mp4') }),
      issue('VIDEO_DUPLICATE', 7, { message: expect.stringContaining('line 2') }),
      issue('VIDEO_UNSUPPORTED_EXTENSION', 8),
      issue('NOT_A_VIDEO', 3, { entry: 'set/clips/notes.mp4' }),
      issue('VIDEO_NO_FRAMES', 4, { entry: 'set/clips/empty.mp4' }),
    ]);
  });

  it("refuses manifest rows whose path leaves the manifest's folder (VIDEO_BAD_PATH)", async () => {
    const good = await clip('inside.mp4');
    const manifest = ['file,label', 'clips/inside.mp4,x', '../x.mp4,y', '/etc/x.mp4,y', 'clips\\x.mp4,y', 'clips/../../x.mp4,y'].join('\n');
    const zip = makeZip([
      { name: 'set/manifest.csv', data: Buffer.from(manifest) },
      { name: 'set/clips/inside.mp4', data: good, method: 'store' },
    ]);
    const id = await fileId('paths.zip', zip);
    const ds = await videoSet('bad-paths', [id]);
    expect(ds.status).toBe('error');
    expect(ds.errors).toEqual([
      issue('VIDEO_BAD_PATH', 3, { file_id: id, entry: 'set/manifest.csv', message: expect.stringContaining('"../x.mp4" points outside') }),
      issue('VIDEO_BAD_PATH', 4, { message: expect.stringContaining('"/etc/x.mp4"') }),
      issue('VIDEO_BAD_PATH', 5, { message: expect.stringContaining('"clips\\x.mp4" points outside') }),
      issue('VIDEO_BAD_PATH', 6, { message: expect.stringContaining('"clips/../../x.mp4"') }),
    ]);
    expect(ds.error_count).toBe(4);
  });

  it('refuses a zip without a manifest, and one with two', async () => {
    const good = await clip('m.mp4');
    const none = await videoSet('no-manifest', [await fileId('none.zip', makeZip([{ name: 'a.mp4', data: good }]))]);
    expect(none.errors).toEqual([expect.objectContaining({ code: 'MANIFEST_MISSING' })]);
    const two = makeZip([
      { name: 'manifest.csv', data: Buffer.from('file,label\na.mp4,x\n') },
      { name: 'MANIFEST.jsonl', data: Buffer.from('{"file":"a.mp4","label":"x"}\n') },
      { name: 'a.mp4', data: good },
    ]);
    const ds = await videoSet('two-manifests', [await fileId('two.zip', two)]);
    expect(ds.errors).toEqual([expect.objectContaining({ code: 'MANIFEST_AMBIGUOUS', message: expect.stringContaining('MANIFEST.jsonl') })]);
  });

  it('refuses a renamed text file at upload, and a non-video file kind at creation', async () => {
    const r = await api.upload(alice.token, 'clip.mp4', 'just some text\n');
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('FILE_TYPE_MISMATCH');
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const c = await api.post('/v1/datasets', { name: 'png-video', kind: 'video-set', file_ids: [await fileId('x.png', png)] }, alice.token);
    expect(c.status).toBe(400);
    expect(c.body.error.code).toBe('FILE_KIND_MISMATCH');
  });
});

describe('video-set from separate uploads', () => {
  it('is ready with a JSONL manifest of captions; WebM frames are counted, not read from the container', async () => {
    const a = await fileId('a.mp4', await clip('a.mp4'));
    const b = await fileId('b.webm', await clip('b.webm', { size: '48x32' }));
    const m = await fileId('Manifest.JSONL', '{"file":"a.mp4","caption":"a test pattern"}\n{"file":"b.webm","caption":"another test pattern, wider"}\n');
    const ds = await videoSet('uploads', [a, b, m]);
    expect(ds.errors).toEqual([]);
    expect(ds.status).toBe('ready');
    expect(ds.stats).toMatchObject({ video_count: 2, captioned: 2, labeled: 0, containers: { mp4: 1, webm: 1 }, codecs: { h264: 1, vp8: 1 } });
    expect(ds.stats.captions).toEqual({ distinct: 2, min_words: 3, max_words: 4, mean_words: 3.5 });
    expect(ds.stats.class_counts).toBeUndefined();
    expect(ds.stats.videos).toEqual([
      { file: 'a.mp4', container: 'mp4', codec: 'h264', width: 32, height: 32, duration_s: 1, frames: 8 },
      { file: 'b.webm', container: 'webm', codec: 'vp8', width: 48, height: 32, duration_s: 1, frames: 8 },
    ]);
  });

  it('names the manifest line whose upload is missing', async () => {
    const a = await fileId('a.mp4', await clip('a2.mp4'));
    const m = await fileId('manifest.csv', 'file,label\na.mp4,x\nc.mp4,y\n');
    const ds = await videoSet('uploads-missing', [a, m]);
    expect(ds.status).toBe('error');
    expect(ds.errors).toEqual([issue('VIDEO_FILE_MISSING', 3, { file_id: m })]);
  });
});

describe('video-set limits', () => {
  it('refuses more videos than DATASET_MAX_VIDEOS, at the first row past it', async () => {
    const r = await api.post('/v1/datasets/samples', { kind: 'videos', size: 3 }, alice.token);
    const ds = await waitForDataset(api, alice.token, r.body.id);
    expect(ds.status).toBe('error');
    expect(ds.errors).toEqual([issue('TOO_MANY_VIDEOS', 9, { message: expect.stringContaining('more than 7 videos') })]);
  });

  it('refuses a video longer than DATASET_MAX_VIDEO_SECONDS', async () => {
    const long = await fileId('long.mp4', await clip('long.mp4', { seconds: 3 }));
    const m = await fileId('manifest.csv', 'file,label\nlong.mp4,x\n');
    const ds = await videoSet('too-long', [long, m]);
    expect(ds.errors).toEqual([issue('VIDEO_TOO_LONG', 2, { file_id: long, message: expect.stringContaining('3 s, more than 2 s') })]);
  });

  it('refuses videos that add up to more than the size limit, before probing any', async () => {
    const data = await clip('s.mp4');
    const input = (id: string, filename: string, bytes: Buffer, contentType: string) => ({
      id,
      filename,
      bytes: bytes.length,
      contentType,
      open: async () => Readable.from([bytes]),
    });
    const manifest = Buffer.from('file,label\none.mp4,x\ntwo.mp4,y\n');
    const files = [
      input('file_1', 'one.mp4', data, 'video/mp4'),
      input('file_2', 'two.mp4', data, 'video/mp4'),
      input('file_m', 'manifest.csv', manifest, 'text/csv'),
    ];
    const limits = { ...DEFAULT_VALIDATION_LIMITS, video: { ...DEFAULT_VALIDATION_LIMITS.video, maxTotalBytes: Math.floor(data.length * 1.5) } };
    const res = await validateDataset('video-set', files, {}, limits);
    expect(res.errors).toEqual([issue('VIDEOS_TOO_LARGE', 3, { file_id: 'file_m' })]);
    expect(res.errorCount).toBe(1);
  });
});

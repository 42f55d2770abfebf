import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AppError } from '../errors.js';
import { mediaTool } from '../media/tools.js';
import { rng } from './rng.js';
import { storedZip } from './zip.js';

const SIZE = 64; // pixels, square
const FRAMES = 16;
const FPS = 16; // one second a clip

type Rgb = [number, number, number];
interface Clip {
  name: string;
  label: string;
  caption: string;
  frames: Buffer[];
}

/** The three classes differ in both colour and motion, so either alone tells them apart. */
const CLASSES = [
  { label: 'red_right', colour: [220, 40, 40] as Rgb, dx: 1, dy: 0 },
  { label: 'blue_down', colour: [40, 80, 230] as Rgb, dx: 0, dy: 1 },
  { label: 'green_still', colour: [40, 200, 70] as Rgb, dx: 0, dy: 0 },
] as const;

const third = (v: number, words: [string, string, string]) => words[Math.min(2, Math.floor((v / SIZE) * 3))]!;

function caption(c: (typeof CLASSES)[number], cx: number, cy: number): string {
  const vertical = third(cy, ['near the top', 'across the middle', 'near the bottom']);
  const horizontal = third(cx, ['on the left', 'in the middle', 'on the right']);
  if (c.dx) return `a red square moves to the right ${vertical}`;
  if (c.dy) return `a blue square moves down ${horizontal}`;
  const where = `${third(cy, ['top', 'middle', 'bottom'])} ${third(cx, ['left', 'centre', 'right'])}`;
  return `a green square stays still in the ${where === 'middle centre' ? 'centre' : where}`;
}

function drawClip(c: (typeof CLASSES)[number], r: ReturnType<typeof rng>): { frames: Buffer[]; cx: number; cy: number } {
  const side = 10 + Math.floor(r.next() * 5);
  const travel = SIZE - side - 8;
  // Jittered start, so clips of a class differ; a moving square starts near its edge.
  const x0 = c.dx ? 2 + Math.floor(r.next() * 4) : 4 + Math.floor(r.next() * (SIZE - side - 8));
  const y0 = c.dy ? 2 + Math.floor(r.next() * 4) : 4 + Math.floor(r.next() * (SIZE - side - 8));
  const bg = 20 + Math.floor(r.next() * 40);
  const frames: Buffer[] = [];
  for (let f = 0; f < FRAMES; f++) {
    const step = Math.round((travel * f) / (FRAMES - 1));
    const x = x0 + c.dx * step;
    const y = y0 + c.dy * step;
    const frame = Buffer.alloc(SIZE * SIZE * 3, bg);
    for (let py = y; py < Math.min(SIZE, y + side); py++) {
      for (let px = x; px < Math.min(SIZE, x + side); px++) frame.set(c.colour, (py * SIZE + px) * 3);
    }
    frames.push(frame);
  }
  const mid = (FRAMES - 1) / 2 / (FRAMES - 1);
  return { frames, cx: x0 + c.dx * travel * mid + side / 2, cy: y0 + c.dy * travel * mid + side / 2 };
}

/** What encoding a sample needs: the ffmpeg binary, and how long one clip may take before it is killed. */
export interface EncodeTools {
  ffmpeg: string;
  timeoutMs: number;
}

/** A clip encodes in milliseconds; one taking this long is a stuck ffmpeg, and the request must not wait on it. */
export const ENCODE_TIMEOUT_MS = 60_000;

/** ffmpeg failed or hung while making a sample: the server's problem, said as such (never a hung request, never a 500). */
export class SampleEncodeError extends AppError {
  constructor(message: string, code: 'SAMPLE_ENCODE_FAILED' | 'SAMPLE_ENCODE_TIMEOUT' = 'SAMPLE_ENCODE_FAILED') {
    super(code, message, { status: 503 });
  }
}

const codecs = new Map<string, Promise<string>>();

/** H.264 where the build has libx264 (the npm build does), else MPEG-4 part 2, which every build has. */
function videoCodec({ ffmpeg, timeoutMs }: EncodeTools): Promise<string> {
  let codec = codecs.get(ffmpeg);
  if (!codec) {
    codec = new Promise((resolve) => {
      execFile(ffmpeg, ['-hide_banner', '-encoders'], { maxBuffer: 4 * 1024 * 1024, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout) =>
        resolve(!err && / libx264 /.test(stdout) ? 'libx264' : 'mpeg4'),
      );
    });
    codecs.set(ffmpeg, codec);
  }
  return codec;
}

/** Encodes raw RGB frames fed on stdin; single-threaded and bit-exact, so a seed gives the same bytes. */
async function encode(tools: EncodeTools, frames: Buffer[], out: string): Promise<void> {
  const c = await videoCodec(tools);
  const args = ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${SIZE}x${SIZE}`, '-r', String(FPS), '-i', 'pipe:0', '-an'];
  args.push('-c:v', c, ...(c === 'libx264' ? ['-preset', 'medium', '-crf', '20'] : ['-q:v', '3']), '-pix_fmt', 'yuv420p', '-threads', '1');
  args.push('-fflags', '+bitexact', '-flags:v', '+bitexact', '-map_metadata', '-1', '-movflags', '+faststart', '-y', out);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(tools.ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, tools.timeoutMs);
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SampleEncodeError(`ffmpeg could not start: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new SampleEncodeError(`ffmpeg took more than ${tools.timeoutMs} ms to encode a sample clip`, 'SAMPLE_ENCODE_TIMEOUT'));
      else if (code === 0) resolve();
      else reject(new SampleEncodeError(`ffmpeg exited ${code}: ${stderr.trim()}`));
    });
    child.stdin.on('error', () => {}); // a failing ffmpeg closes its stdin early; the exit code says why
    child.stdin.end(Buffer.concat(frames));
  });
}

/**
 * A small video-set for trying video trainers: `perClass` one-second 64x64 clips of each of 3
 * classes (a red square moving right, a blue one moving down, a green one standing still), as
 * one zip with `manifest.csv` (file,label,caption) and the clips under `clips/`.
 */
export async function videoSet(perClass = 8, seed = 7, encoding?: Partial<EncodeTools>): Promise<Buffer> {
  const tools = { ffmpeg: encoding?.ffmpeg ?? (await mediaTool('ffmpeg')), timeoutMs: encoding?.timeoutMs ?? ENCODE_TIMEOUT_MS };
  const r = rng(seed);
  const clips: Clip[] = [];
  for (let i = 0; i < perClass; i++) {
    for (const c of CLASSES) {
      const { frames, cx, cy } = drawClip(c, r);
      clips.push({ name: `clips/${c.label}_${String(i + 1).padStart(3, '0')}.mp4`, label: c.label, caption: caption(c, cx, cy), frames });
    }
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-sample-video-'));
  try {
    const entries = [
      { name: 'manifest.csv', data: Buffer.from(['file,label,caption', ...clips.map((c) => `${c.name},${c.label},${c.caption}`)].join('\n') + '\n') },
    ];
    for (const [i, c] of clips.entries()) {
      const out = path.join(dir, `${i}.mp4`);
      await encode(tools, c.frames, out);
      entries.push({ name: c.name, data: await readFile(out) });
    }
    return storedZip(entries);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

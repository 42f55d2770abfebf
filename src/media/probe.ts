import { execFile } from 'node:child_process';
import { mediaTool } from './tools.js';

/** What the trainer and the stats need of one video. */
export interface VideoProbe {
  /** 'mp4' | 'mov' | 'webm' | 'matroska' */
  container: string;
  codec: string;
  width: number;
  height: number;
  duration_s: number;
  frames: number;
}

export type ProbeOutcome =
  | { ok: true; probe: VideoProbe }
  | { ok: false; code: 'NOT_A_VIDEO' | 'VIDEO_NO_FRAMES' | 'VIDEO_UNSUPPORTED_CONTAINER' | 'VIDEO_PROBE_TIMEOUT'; message: string };

/** ffprobe's demuxer names for the containers a video-set takes; anything else (an image, an AVI) is refused. */
const CONTAINERS: Record<string, string[]> = {
  'mov,mp4,m4a,3gp,3g2,mj2': ['mp4', 'mov'],
  'matroska,webm': ['webm', 'matroska'],
};

interface FfStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  duration?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  avg_frame_rate?: string;
  disposition?: { attached_pic?: number };
}
interface FfOutput {
  streams?: FfStream[];
  format?: { format_name?: string; duration?: string };
}

const num = (v: string | undefined): number => (v === undefined || v === 'N/A' ? NaN : Number(v));

/** Which of the demuxer's containers this is: the name tells mp4 from mov and webm from mkv, the bytes do not. */
function containerOf(formatName: string, extension: string): string | null {
  const family = CONTAINERS[formatName];
  if (!family) return null;
  const byExt: Record<string, string> = { mp4: 'mp4', mov: 'mov', webm: 'webm', mkv: 'matroska' };
  const named = byExt[extension];
  return named && family.includes(named) ? named : family[0]!;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; timedOut: boolean; failed: boolean }> {
  return new Promise((resolve) => {
    // execFile runs the binary directly, no shell between; callers pass paths they named themselves.
    execFile(bin, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      const e = err as (Error & { killed?: boolean; signal?: string | null }) | null;
      resolve({ stdout, stderr, timedOut: !!e?.killed && e.signal === 'SIGKILL', failed: !!e });
    });
  });
}

/**
 * Probes one local file. `-count_packets` demuxes the whole file (no decoding): one video
 * packet is one frame for every codec a video-set holds, and the count is what the file really
 * has where the container's own nb_frames is missing (Matroska, WebM) or wrong (a cut file).
 */
export async function probeVideo(file: string, extension: string, timeoutMs: number): Promise<ProbeOutcome> {
  const bin = await mediaTool('ffprobe');
  const r = await run(bin, ['-v', 'error', '-count_packets', '-show_format', '-show_streams', '-of', 'json', file], timeoutMs);
  if (r.timedOut) return { ok: false, code: 'VIDEO_PROBE_TIMEOUT', message: `probing took more than ${timeoutMs} ms` };
  let out: FfOutput = {};
  try {
    out = JSON.parse(r.stdout || '{}') as FfOutput;
  } catch {
    /* treated as unreadable below */
  }
  if (r.failed || !out.format?.format_name) {
    const why = r.stderr.trim().split('\n').pop()?.replace(file, '').replace(/^:\s*/, '') || 'unreadable';
    return { ok: false, code: 'NOT_A_VIDEO', message: `not a readable video (${why.slice(0, 200)})` };
  }
  const container = containerOf(out.format.format_name, extension);
  if (!container) return { ok: false, code: 'VIDEO_UNSUPPORTED_CONTAINER', message: `content is "${out.format.format_name}", not MP4, MOV, WebM or Matroska` };
  // Cover art in an MP4 is a one-frame "video" stream; it is not the video.
  const v = (out.streams ?? []).find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const counted = num(v?.nb_read_packets);
  const frames = Number.isFinite(counted) ? counted : num(v?.nb_frames);
  if (!v || !(frames > 0)) return { ok: false, code: 'VIDEO_NO_FRAMES', message: v ? 'the video stream has zero frames' : 'no video stream (zero frames)' };
  if (!v.width || !v.height) return { ok: false, code: 'NOT_A_VIDEO', message: 'the video stream has no frame size' };
  let duration = num(out.format.duration);
  if (!Number.isFinite(duration)) duration = num(v.duration);
  if (!Number.isFinite(duration)) {
    const [n, d] = (v.avg_frame_rate ?? '').split('/').map(Number);
    duration = n && d ? frames / (n / d) : 0;
  }
  return {
    ok: true,
    probe: { container, codec: v.codec_name ?? 'unknown', width: v.width, height: v.height, duration_s: Math.round(duration * 1000) / 1000, frames },
  };
}

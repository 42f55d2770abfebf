import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { probeVideo, type VideoProbe } from '../../../media/probe.js';
import { mapOrdered } from './image-set.js';
import { extensionOf, type ManifestPlace, type ManifestRow, parseManifest, safeRelative, VIDEO_EXTENSIONS } from './video-manifest.js';
import { type Located, uploadsSource, type VideoSource, zipSource } from './video-sources.js';
import { ClassCounter, IssueList, round2 } from './types.js';
import type { DatasetFileInput, DatasetOptions, ValidationIssue, ValidationLimits, ValidationResult } from './types.js';

/** One manifest row that passed the row checks, and where its video is. */
interface Planned {
  row: ManifestRow;
  file: string;
  at: Located;
}

/** Per-video probe results as the trainer gets them in `stats.videos`. */
type VideoStat = { file: string } & VideoProbe;

function atRow(p: ManifestPlace, line: number, code: string, message: string): ValidationIssue {
  return { ...p, line, code, message: `manifest line ${line}: ${message}` };
}

/** Row checks that need no video bytes: path, extension, duplicates, presence, count and size limits. */
function plan(rows: ManifestRow[], source: VideoSource, limits: ValidationLimits, issues: IssueList): Planned[] {
  const place = source.manifest.place;
  const seen = new Map<string, number>();
  const planned: Planned[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (planned.length >= limits.video.maxVideos) {
      issues.add(atRow(place, row.line, 'TOO_MANY_VIDEOS', `more than ${limits.video.maxVideos} videos in the dataset (${rows.length} rows)`));
      break; // the limit is what bounds the probing work one dataset can cause
    }
    const file = safeRelative(row.file);
    if (file === null) {
      issues.add(atRow(place, row.line, 'VIDEO_BAD_PATH', `"${row.file}" points outside the manifest's folder`));
      continue;
    }
    if (!(VIDEO_EXTENSIONS as readonly string[]).includes(extensionOf(file))) {
      issues.add(atRow(place, row.line, 'VIDEO_UNSUPPORTED_EXTENSION', `"${row.file}" is not .${VIDEO_EXTENSIONS.join(', .')}`));
      continue;
    }
    const first = seen.get(file);
    if (first !== undefined) {
      issues.add(atRow(place, row.line, 'VIDEO_DUPLICATE', `"${row.file}" is already listed on line ${first}`));
      continue;
    }
    seen.set(file, row.line);
    const at = source.find(file);
    if (at === 'missing') {
      issues.add(atRow(place, row.line, 'VIDEO_FILE_MISSING', `"${row.file}" is not in the dataset`));
      continue;
    }
    if (at === 'ambiguous') {
      issues.add(atRow(place, row.line, 'VIDEO_FILE_AMBIGUOUS', `more than one uploaded file is named "${row.file}"`));
      continue;
    }
    bytes += at.bytes;
    if (bytes > limits.video.maxTotalBytes) {
      issues.add(atRow(place, row.line, 'VIDEOS_TOO_LARGE', `the videos add up to more than ${limits.video.maxTotalBytes} bytes`));
      break;
    }
    planned.push({ row, file, at });
  }
  return planned;
}

function summarize(rows: ManifestRow[], videos: VideoStat[], totalBytes: number) {
  const classes = new ClassCounter();
  const words: number[] = [];
  const captions = new Set<string>();
  for (const r of rows) {
    if (r.label !== undefined) classes.add(r.label);
    if (r.caption !== undefined) {
      words.push(r.caption.split(/\s+/).length);
      captions.add(r.caption);
    }
  }
  const tally = (key: (v: VideoStat) => string) => videos.reduce<Record<string, number>>((acc, v) => ({ ...acc, [key(v)]: (acc[key(v)] ?? 0) + 1 }), {});
  return {
    video_count: videos.length,
    total_duration_s: round2(videos.reduce((s, v) => s + v.duration_s, 0)),
    total_bytes: totalBytes,
    labeled: rows.filter((r) => r.label !== undefined).length,
    captioned: words.length,
    ...(classes.size ? { class_counts: classes.toJSON() } : {}),
    ...(words.length
      ? {
          captions: {
            distinct: captions.size,
            min_words: Math.min(...words),
            max_words: Math.max(...words),
            mean_words: round2(words.reduce((a, b) => a + b, 0) / words.length),
          },
        }
      : {}),
    resolutions: tally((v) => `${v.width}x${v.height}`),
    codecs: tally((v) => v.codec),
    containers: tally((v) => v.container),
  };
}

async function validateFrom(source: VideoSource, dir: string, limits: ValidationLimits, issues: IssueList): Promise<Record<string, unknown>> {
  const { manifest: m } = source;
  const parsed = await parseManifest(m.name, await m.read(), m.place, issues, limits.maxLineBytes);
  if (!parsed) return { manifest: m.name };
  const planned = plan(parsed.rows, source, limits, issues);

  // Each video goes to its own temp file (ffprobe needs a seekable file: an MP4's index may
  // sit at its end), is probed and removed; at most probeConcurrency at once on disk.
  const outcomes = await mapOrdered(planned, limits.video.probeConcurrency, async (p, i) => {
    const local = path.join(dir, `v${i}.${extensionOf(p.file)}`);
    try {
      await p.at.extract(local);
      return await probeVideo(local, extensionOf(p.file), limits.video.probeTimeoutMs);
    } finally {
      await rm(local, { force: true });
    }
  });

  const good: ManifestRow[] = [];
  const videos: VideoStat[] = [];
  let totalBytes = 0;
  outcomes.forEach((o, i) => {
    const p = planned[i]!;
    const where = { file_id: p.at.fileId, ...(p.at.entry ? { entry: p.at.entry } : {}) };
    if (!o.ok) return issues.add(atRow(where, p.row.line, o.code, `"${p.row.file}": ${o.message}`));
    if (o.probe.duration_s > limits.video.maxSeconds)
      return issues.add(atRow(where, p.row.line, 'VIDEO_TOO_LONG', `"${p.row.file}" lasts ${o.probe.duration_s} s, more than ${limits.video.maxSeconds} s`));
    good.push(p.row);
    videos.push({ file: p.file, ...o.probe });
    totalBytes += p.at.bytes;
  });
  return {
    manifest: m.name,
    columns: parsed.columns,
    ...summarize(good, videos, totalBytes),
    unlisted_videos: Math.max(0, source.videoCount - planned.length),
    videos,
  };
}

/**
 * A video-set: one zip (videos + manifest) or separate uploads (videos + manifest). Every
 * video the manifest names is probed with ffprobe, so a dataset is ready only if a trainer can
 * read each one; the probe results go to the trainer in `stats.videos`.
 */
export async function validateVideoSet(files: readonly DatasetFileInput[], _options: DatasetOptions, limits: ValidationLimits): Promise<ValidationResult> {
  const issues = new IssueList(limits.maxErrors);
  const zips = files.filter((f) => f.contentType === 'application/zip');
  if (zips.length > 0 && files.length > 1) {
    for (const z of zips)
      issues.add({ file_id: z.id, code: 'VIDEO_SET_FILES', message: `${z.filename}: a video-set is one zip alone, or videos plus a manifest` });
    return issues.result({});
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'trainyard-video-'));
  try {
    const source = zips.length ? await zipSource(zips[0]!, dir, limits, issues) : uploadsSource(files, issues);
    if (!source) return issues.result({});
    try {
      return issues.result(await validateFrom(source, dir, limits, issues));
    } finally {
      source.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

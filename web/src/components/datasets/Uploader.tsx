import { useCallback, useEffect, useId, useRef, useState, type DragEvent } from 'react';
import type { FileInfo } from '../../api/types';
import { fmtBytes } from '../../lib/format';
import { ErrorNote, ProgressBar } from '../ui';
import { uploadFile, type UploadProgress } from './upload';

export interface UploadItem {
  key: string;
  file: File;
  progress: UploadProgress;
  status: 'uploading' | 'done' | 'failed';
  info?: FileInfo;
  error?: unknown;
}

let seq = 0;

/**
 * The files of one new dataset: each starts uploading as soon as it is chosen or dropped, all at
 * once, each with its own progress. Leaving the page cancels what is still in flight.
 */
export function useUploads() {
  const [items, setItems] = useState<UploadItem[]>([]);
  const controllers = useRef(new Map<string, AbortController>());
  useEffect(() => {
    const c = controllers.current;
    return () => {
      for (const ctrl of c.values()) ctrl.abort();
    };
  }, []);

  const patch = useCallback((key: string, p: Partial<UploadItem>) => setItems((xs) => xs.map((x) => (x.key === key ? { ...x, ...p } : x))), []);

  const start = useCallback(
    (key: string, file: File) => {
      const ctrl = new AbortController();
      controllers.current.set(key, ctrl);
      uploadFile(file, (progress) => patch(key, { progress }), ctrl.signal).then(
        (info) => {
          controllers.current.delete(key);
          patch(key, { status: 'done', info, progress: { loaded: file.size, total: file.size, phase: 'uploading' } });
        },
        (error: unknown) => {
          controllers.current.delete(key);
          if (error instanceof DOMException && error.name === 'AbortError') return;
          patch(key, { status: 'failed', error });
        },
      );
    },
    [patch],
  );

  const add = useCallback(
    (files: Iterable<File>) => {
      const fresh: UploadItem[] = [...files].map((file) => ({
        key: `u${++seq}`,
        file,
        status: 'uploading',
        progress: { loaded: 0, total: file.size, phase: 'uploading' },
      }));
      setItems((xs) => [...xs, ...fresh]);
      for (const it of fresh) start(it.key, it.file);
    },
    [start],
  );

  const remove = useCallback((key: string) => {
    controllers.current.get(key)?.abort();
    controllers.current.delete(key);
    setItems((xs) => xs.filter((x) => x.key !== key));
  }, []);

  const retry = useCallback(
    (key: string) => {
      const it = items.find((x) => x.key === key);
      if (!it) return;
      patch(key, { status: 'uploading', error: undefined, progress: { loaded: 0, total: it.file.size, phase: 'uploading' } });
      start(key, it.file);
    },
    [items, patch, start],
  );

  const clear = useCallback(() => {
    for (const ctrl of controllers.current.values()) ctrl.abort();
    controllers.current.clear();
    setItems([]);
  }, []);

  return { items, add, remove, retry, clear };
}

/** A drop zone that is also a plain file input (keyboard and screen readers use the input). */
export function DropZone({ onFiles, disabled }: { onFiles: (files: File[]) => void; disabled?: boolean }) {
  const [over, setOver] = useState(false);
  const id = useId();
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    if (disabled) return;
    const files = [...e.dataTransfer.files];
    if (files.length) onFiles(files);
  };
  return (
    <div
      className={`dropzone${over ? ' over' : ''}`}
      data-testid="dropzone"
      onDragEnter={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOver(false);
      }}
      onDrop={onDrop}
    >
      <p className="dropzone-hint" aria-hidden="true">
        Drop files here, or
      </p>
      <label htmlFor={id}>Choose files to upload</label>
      <input
        id={id}
        type="file"
        multiple
        disabled={disabled}
        aria-describedby={`${id}-help`}
        onChange={(e) => {
          const files = [...(e.currentTarget.files ?? [])];
          e.currentTarget.value = '';
          if (files.length) onFiles(files);
        }}
      />
      <p className="help" id={`${id}-help`}>
        CSV, JSON Lines, images (JPEG, PNG, WebP), videos or zip files. Several at once; large files upload in one piece straight to storage.
      </p>
    </div>
  );
}

function phaseText(it: UploadItem): string {
  if (it.status === 'done') return `uploaded, ${fmtBytes(it.info?.bytes ?? it.file.size)}${it.info?.content_type ? ` (${it.info.content_type})` : ''}`;
  if (it.status === 'failed') return 'failed';
  if (it.progress.phase === 'hashing') return 'computing the checksum…';
  if (it.progress.phase === 'checking') return 'checking on the server…';
  return `${fmtBytes(it.progress.loaded)} of ${fmtBytes(it.progress.total)}`;
}

/** A preview of an image chosen in this browser (an object URL: the bytes never leave the page for it). */
function Thumb({ file }: { file: File }) {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
  return url ? <img className="upload-thumb" src={url} alt="" /> : null;
}

/** Each file with its own progress bar, its result, and a way to drop it or try again. */
export function UploadList({ items, onRemove, onRetry }: { items: UploadItem[]; onRemove: (key: string) => void; onRetry: (key: string) => void }) {
  if (items.length === 0) return null;
  const done = items.filter((x) => x.status === 'done').length;
  const failed = items.filter((x) => x.status === 'failed').length;
  return (
    <div className="uploads">
      <p role="status" className="muted">
        {done} of {items.length} file{items.length === 1 ? '' : 's'} uploaded{failed ? `, ${failed} failed` : ''}.
      </p>
      <ul className="upload-list">
        {items.map((it) => (
          <li key={it.key} className={`upload upload-${it.status}`} data-testid="upload">
            <div className="row upload-head">
              <span className="row upload-title">
                {/^image\/(png|jpeg|webp)$/.test(it.file.type) && <Thumb file={it.file} />}
                <span className="upload-name">{it.file.name}</span>
              </span>
              <span className="row">
                {it.status === 'failed' && (
                  <button type="button" onClick={() => onRetry(it.key)}>
                    Retry<span className="visually-hidden"> {it.file.name}</span>
                  </button>
                )}
                <button type="button" onClick={() => onRemove(it.key)}>
                  {it.status === 'uploading' ? 'Cancel' : 'Remove'}
                  <span className="visually-hidden"> {it.file.name}</span>
                </button>
              </span>
            </div>
            <ProgressBar
              value={it.progress.phase === 'hashing' ? null : it.progress.total > 0 ? it.progress.loaded / it.progress.total : it.status === 'done' ? 1 : 0}
              label={`Upload of ${it.file.name}`}
              detail={phaseText(it)}
            />
            {it.status === 'failed' && <ErrorNote error={it.error} title={`${it.file.name} was not uploaded`} />}
          </li>
        ))}
      </ul>
    </div>
  );
}

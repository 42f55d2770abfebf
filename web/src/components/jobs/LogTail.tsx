import { useLayoutEffect, useRef } from 'react';

export interface LogLine {
  seq: number;
  at?: string;
  level: string;
  message: string;
  stream?: string;
}

/** Lines kept on the page: the newest ones; the full log stays behind GET /v1/jobs/{id}/logs. */
export const MAX_LOG_LINES = 500;

/** A line from a log event's data or a GET /logs row; null for anything without a message. */
export function toLogLine(seq: number, d: Record<string, unknown>, at?: string): LogLine | null {
  if (typeof d.message !== 'string') return null;
  return {
    seq,
    level: typeof d.level === 'string' ? d.level : 'info',
    message: d.message,
    ...(typeof d.stream === 'string' ? { stream: d.stream } : {}),
    ...(typeof (d.at ?? at) === 'string' ? { at: String(d.at ?? at) } : {}),
  };
}

/** Merges lines by event number (the first fetch and the live events overlap), newest MAX_LOG_LINES kept. */
export function mergeLines(old: LogLine[], add: LogLine[]): LogLine[] {
  if (add.length === 0) return old;
  const bySeq = new Map(old.map((l) => [l.seq, l]));
  for (const l of add) bySeq.set(l.seq, l);
  const all = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  return all.length > MAX_LOG_LINES ? all.slice(-MAX_LOG_LINES) : all;
}

/**
 * The job's log, following new lines: it stays scrolled to the end unless the reader scrolled
 * up to read, and a keyboard can scroll it (it is focusable, with a name).
 */
export function LogTail({ lines }: { lines: LogLine[] }) {
  const box = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  useLayoutEffect(() => {
    const el = box.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  if (lines.length === 0) return <p className="muted">No log lines yet.</p>;
  return (
    <pre
      ref={box}
      className="log log-tail"
      role="log"
      aria-label="Job log"
      tabIndex={0}
      data-lines={lines.length}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {lines.map((l) => (
        <div key={l.seq} className={`log-${l.level}`}>
          {l.level !== 'info' ? `[${l.level}] ` : ''}
          {l.message}
        </div>
      ))}
    </pre>
  );
}

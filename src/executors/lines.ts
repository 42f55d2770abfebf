/**
 * Splits a byte stream into lines without ever holding more than `maxLineBytes` of one line.
 * Works on bytes, not strings: 0x0A never occurs inside a multi-byte UTF-8 sequence, so a
 * character split across chunks is only decoded once its line is complete.
 */
export type LineHandler = (line: string, truncatedBytes: number) => void;

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private readonly max: number;
  private readonly onLine: LineHandler;
  // Grows on demand up to `max`: most trainers print short lines, so 2 × 64 KiB per run is
  // only paid by the ones that need it. Copying (rather than keeping chunk slices) matters:
  // a slice would pin the whole 64 KiB read buffer it came from.
  private buf: Buffer = Buffer.alloc(0);
  private kept = 0;
  private dropped = 0;
  private lastByte = -1;

  constructor(maxLineBytes: number, onLine: LineHandler) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError('maxLineBytes must be a positive integer');
    this.max = maxLineBytes;
    this.onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        this.append(chunk, start, chunk.length);
        return;
      }
      if (this.kept === 0 && this.dropped === 0) {
        // Fast path: the whole line is inside this chunk, no copy needed.
        this.emit(chunk, start, nl, 0, nl > start && chunk[nl - 1] === CR);
      } else {
        this.append(chunk, start, nl);
        this.flush();
      }
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): void {
    if (this.kept > 0 || this.dropped > 0) this.flush();
  }

  private append(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.lastByte = chunk[end - 1] ?? -1;
    const take = Math.min(n, this.max - this.kept);
    if (take > 0) {
      if (this.buf.length < this.kept + take) {
        const grown = Buffer.allocUnsafe(Math.min(this.max, Math.max(4096, 2 * (this.kept + take))));
        this.buf.copy(grown, 0, 0, this.kept);
        this.buf = grown;
      }
      chunk.copy(this.buf, this.kept, start, start + take);
      this.kept += take;
    }
    this.dropped += n - take;
  }

  private flush(): void {
    const { kept, dropped } = this;
    const cr = this.lastByte === CR;
    this.kept = 0;
    this.dropped = 0;
    this.lastByte = -1;
    this.emit(this.buf, 0, kept, dropped, cr);
  }

  private emit(buf: Buffer, start: number, end: number, dropped: number, endsWithCR: boolean): void {
    if (end - start > this.max) {
      dropped += end - start - this.max;
      end = start + this.max;
    }
    // The CR of a CRLF is line ending, not content: strip it, or do not count it as lost.
    if (endsWithCR) {
      if (dropped > 0) dropped -= 1;
      else end -= 1;
    }
    if (dropped === 0) {
      this.onLine(buf.toString('utf8', start, end), 0);
      return;
    }
    const cut = charBoundary(buf, start, end);
    this.onLine(buf.toString('utf8', start, cut), dropped + (end - cut));
  }
}

/** Moves `end` back so the kept bytes do not end in half a character (which would decode as U+FFFD). */
function charBoundary(buf: Buffer, start: number, end: number): number {
  let i = end - 1;
  while (i >= start && i > end - 4 && ((buf[i] ?? 0) & 0xc0) === 0x80) i--;
  if (i < start) return end;
  const lead = buf[i] ?? 0;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i + need > end ? i : end;
}

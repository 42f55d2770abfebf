import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';

/** Where a text file stops being text we can keep: reported as a dataset error on that line. */
export class BadTextError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

/** Past this, a line still without its newline is checked in pieces (memory stays bounded). */
const MAX_PENDING = 64 * 1024;

/** The length of `buf` without a trailing, possibly cut-off, UTF-8 sequence. */
function completePrefix(buf: Buffer): number {
  let i = buf.length - 1;
  while (i >= 0 && i > buf.length - 4 && (buf[i]! & 0xc0) === 0x80) i--;
  return i >= 0 && buf[i]! >= 0xc0 ? i : buf.length;
}

/**
 * Passes bytes through unchanged, failing the stream with BadTextError on the first physical
 * line that is not valid UTF-8 or holds a NUL: a parser downstream would otherwise turn bad
 * bytes into U+FFFD silently, and a NUL reaches Postgres (jsonb stats refuse it) as an
 * "internal error" instead of a line the user can fix. Lines are physical lines, counted from
 * 1, as the CSV validator counts them.
 */
export class TextGuard extends Transform {
  private line = 1;
  private pending: Buffer = Buffer.alloc(0);

  private check(piece: Buffer): void {
    if (piece.includes(0)) throw new BadTextError(this.line, 'contains the NUL character (\\u0000)');
    if (!isUtf8(piece)) throw new BadTextError(this.line, 'not valid UTF-8 (the file must be UTF-8 text)');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf(0x0a, start)) !== -1) {
        this.check(buf.subarray(start, nl));
        this.line++;
        start = nl + 1;
      }
      buf = buf.subarray(start);
      if (buf.length > MAX_PENDING) {
        const end = completePrefix(buf);
        this.check(buf.subarray(0, end));
        buf = buf.subarray(end);
      }
      this.pending = Buffer.from(buf);
      done(null, chunk);
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.check(this.pending);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

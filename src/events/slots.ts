import { TooManyRequestsError } from '../errors.js';

/**
 * Open live-event streams per user, SSE and WebSocket counted together. A stream takes a slot
 * before it starts and gives it back when its connection closes, however it closes; the
 * release is idempotent, so every close path may call it.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerUser: number) {}

  /** A slot for `userId`, or 429 TOO_MANY_STREAMS when the user already holds the maximum. */
  acquire(userId: string): () => void {
    const n = this.open.get(userId) ?? 0;
    if (n >= this.maxPerUser)
      throw new TooManyRequestsError('TOO_MANY_STREAMS', `you already have ${n} open event streams (limit ${this.maxPerUser}); close one first`, 5);
    this.open.set(userId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(userId) ?? 1) - 1;
      if (left > 0) this.open.set(userId, left);
      else this.open.delete(userId);
    };
  }

  held(userId: string): number {
    return this.open.get(userId) ?? 0;
  }
}

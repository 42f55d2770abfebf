import { AppError, TooManyRequestsError } from '../errors.js';

/**
 * Who a live stream was opened by, and how to tell whether they may still see it. Streams are
 * authenticated once, at their start; an API key revoked, a user disabled or demoted, or a job
 * gone while a stream is open must still end it, on every API process.
 */
export interface StreamAccess {
  userId: string;
  /** The API key it was opened with (a bot's too). */
  keyId?: string;
  /** The bot acting for userId, if any. */
  actorId?: string;
  /** Resolves while the stream's credentials still see what it streams; throws the request's error (401, 403, 404) otherwise. */
  recheck: () => Promise<void>;
  /** Ends the stream with that error (called at most once). */
  end: (err: AppError) => void;
}

function end(g: StreamAccess, err: AppError): void {
  try {
    g.end(err);
  } catch {
    // A connection that fails to close is closing already.
  }
}

/** How many rechecks run at once after a notification that names many streams (or all of them). */
const RECHECK_CONCURRENCY = 8;

/**
 * Open live-event streams per user, SSE and WebSocket counted together. A stream takes a slot
 * before it starts and gives it back when its connection closes, however it closes; the
 * release is idempotent, so every close path may call it.
 *
 * A stream that says who opened it (`guard`) is also rechecked when that principal changes:
 * the hub hears the same `principals` notifications as the principal cache (`u:<user id>`,
 * `k:<key id>`, from triggers) and calls `revalidate`, and everything after a gap in
 * notifications (the LISTEN connection was down) is rechecked.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();
  private readonly guarded = new Set<StreamAccess>();

  constructor(
    private readonly maxPerUser: number,
    private readonly onError: (msg: string, err: unknown) => void = () => {},
  ) {}

  /** A slot for `userId`, or 429 TOO_MANY_STREAMS when the user already holds the maximum. */
  acquire(userId: string, guard?: StreamAccess): () => void {
    const n = this.open.get(userId) ?? 0;
    if (n >= this.maxPerUser)
      throw new TooManyRequestsError('TOO_MANY_STREAMS', `you already have ${n} open event streams (limit ${this.maxPerUser}); close one first`, 5);
    this.open.set(userId, n + 1);
    if (guard) {
      this.guarded.add(guard);
      // Once more now that it is registered: a change whose notification came between the
      // request's authentication and this point would otherwise never reach the stream.
      void this.check(guard);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (guard) this.guarded.delete(guard);
      const left = (this.open.get(userId) ?? 1) - 1;
      if (left > 0) this.open.set(userId, left);
      else this.open.delete(userId);
    };
  }

  held(userId: string): number {
    return this.open.get(userId) ?? 0;
  }

  /**
   * Rechecks the streams a `principals` notification names (`u:<id>`: the user, or the bot
   * acting for them; `k:<id>`: the key), or every stream when `payload` is null, and ends those
   * whose credentials no longer see what they stream. A recheck that fails for another reason
   * (the database unreachable) leaves its stream open: only the request's own refusal ends it.
   */
  async revalidate(payload: string | null): Promise<void> {
    const [kind, id] = payload === null ? [null, null] : [payload.slice(0, 2), payload.slice(2)];
    const named = [...this.guarded].filter(
      (g) => kind === null || (kind === 'u:' && (g.userId === id || g.actorId === id)) || (kind === 'k:' && g.keyId === id),
    );
    // After every listener of this notification has run: the principal cache drops its entries
    // in its own handler, and a recheck must not be answered from what it held.
    await new Promise<void>((r) => setImmediate(r));
    const next = async (): Promise<void> => {
      for (let g = named.shift(); g; g = named.shift()) await this.check(g);
    };
    await Promise.all(Array.from({ length: Math.min(RECHECK_CONCURRENCY, named.length) }, next));
  }

  private async check(g: StreamAccess): Promise<void> {
    if (!this.guarded.has(g)) return;
    try {
      await g.recheck();
    } catch (err) {
      if (err instanceof AppError && [401, 403, 404].includes(err.status)) {
        if (this.guarded.delete(g)) end(g, err);
      } else this.onError('rechecking a live stream’s access failed; it stays open', err);
    }
  }
}

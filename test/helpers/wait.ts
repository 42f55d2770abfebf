/** Polls `fn` until it returns a truthy value; fails with `message` and the last value after `timeoutMs`. */
export async function until<T>(fn: () => T | Promise<T>, o: { timeoutMs?: number; intervalMs?: number; message?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.message ?? 'a condition'} (last value: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 20));
  }
}

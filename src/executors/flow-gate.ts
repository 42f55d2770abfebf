/**
 * Back-pressure from a sink to the executor reading a trainer's pipes (the `Flow` an executor
 * takes): while the sink is busy the executor stops reading, and `drained()` resolves once the
 * sink has room again. The worker's EventSink (database writes) and the launcher's RemoteSink
 * (posts to the attempt API) share this gate; each says what "busy" means for it and calls
 * `wake()` whenever that may have changed (a batch written, the sink closed or lost).
 */
export class FlowGate {
  private waiters: Array<() => void> = [];

  constructor(readonly busy: () => boolean) {}

  drained(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  wake(): void {
    if (this.busy()) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const resolve of waiting) resolve();
  }
}

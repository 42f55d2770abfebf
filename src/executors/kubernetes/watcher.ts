/**
 * One watch per executor on the namespace's Trainyard Jobs and pods (label
 * app.kubernetes.io/managed-by=trainyard), however many attempts run: an event about an
 * attempt's Job or pod wakes that attempt, which then reads its state (level-triggered: an event
 * only says "look now", so a missed or reordered one costs a resync, never a wrong verdict).
 * While the watch is down (a dropped connection, RBAC without `watch`), attempts fall back to
 * polling every EXECUTOR_POLL_MS; each (re)connect wakes every attempt to catch up.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { MANAGED_BY } from './manifest.js';

type Wake = () => void;

export interface AttemptWatcherLog {
  warn(obj: object, msg: string): void;
}

const SELECTOR = Object.entries(MANAGED_BY)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

export class AttemptWatcher {
  private readonly subscribers = new Map<string, Set<Wake>>();
  private readonly streams = new Map<string, AbortController | 'connecting'>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly watch: Watch;
  private closed = false;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly log: AttemptWatcherLog,
  ) {
    this.watch = new Watch(kc);
  }

  /** True while both watches (Jobs and pods) are connected: events, not polls, drive attempts. */
  get live(): boolean {
    return this.paths().every((p) => this.streams.get(p) instanceof AbortController);
  }

  /** Calls `wake` on every event about the attempt named `name`; the watch starts with the first subscriber. */
  subscribe(name: string, wake: Wake): () => void {
    let set = this.subscribers.get(name);
    if (!set) this.subscribers.set(name, (set = new Set()));
    set.add(wake);
    for (const p of this.paths()) if (!this.streams.has(p)) void this.connect(p, RETRY_MIN_MS);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.subscribers.get(name) === set) this.subscribers.delete(name);
    };
  }

  close(): void {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const s of this.streams.values()) if (s instanceof AbortController) s.abort();
    this.streams.clear();
  }

  private paths(): string[] {
    const ns = encodeURIComponent(this.namespace);
    return [`/apis/batch/v1/namespaces/${ns}/jobs`, `/api/v1/namespaces/${ns}/pods`];
  }

  private async connect(path: string, backoffMs: number): Promise<void> {
    if (this.closed) return;
    this.streams.set(path, 'connecting');
    let connectedAt = 0;
    const ended = (err: unknown) => {
      if (this.closed) return;
      this.streams.delete(path);
      // A watch the server ended after a while (its timeout) reconnects at once; one that failed
      // soon after connecting, or never connected, backs off.
      const healthy = connectedAt && Date.now() - connectedAt > RETRY_MAX_MS;
      if (err && !(err instanceof Error && err.name === 'AbortError')) this.log.warn({ err, path }, 'Kubernetes watch ended; attempts poll until it is back');
      const delay = healthy ? RETRY_MIN_MS : Math.min(backoffMs * 2, RETRY_MAX_MS);
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        if (this.subscribers.size > 0) void this.connect(path, delay);
      }, delay);
      this.retryTimers.add(t);
    };
    try {
      const controller = await this.watch.watch(path, { labelSelector: SELECTOR }, (_type, obj) => this.onEvent(obj), ended);
      if (this.closed) {
        controller.abort();
        return;
      }
      if (this.streams.get(path) !== 'connecting') return; // ended while connecting
      this.streams.set(path, controller);
      connectedAt = Date.now();
      // Whatever changed while this watch was down: every attempt looks once.
      this.wakeAll();
    } catch (err) {
      ended(err);
    }
  }

  private onEvent(obj: { kind?: string; metadata?: { name?: string; labels?: Record<string, string> } } | undefined): void {
    const meta = obj?.metadata;
    // A Job is named after its attempt; its pod carries the Job's name as a label.
    const name = obj?.kind === 'Pod' ? (meta?.labels?.['batch.kubernetes.io/job-name'] ?? meta?.labels?.['job-name']) : meta?.name;
    if (name) for (const wake of this.subscribers.get(name) ?? []) wake();
  }

  private wakeAll(): void {
    for (const set of this.subscribers.values()) for (const wake of set) wake();
  }
}

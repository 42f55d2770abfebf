/**
 * A local executor whose artifact upload waits until the test lets it through: a large model on
 * a slow store, stood in for by a gate in front of the executor's real upload (nothing else about
 * the attempt changes). Pass `executor` as RuntimeOptions.executor or startWorker's option.
 */
import type { Executor } from '../../src/executors/executor.js';
import type { LocalExecutor } from '../../src/executors/local-executor.js';

export function heldUpload(o: { firstAttemptOnly?: boolean } = {}) {
  let uploading!: () => void;
  const started = new Promise<void>((r) => (uploading = r));
  let letThrough!: () => void;
  const gate = new Promise<void>((r) => (letThrough = r));
  let attempts = 0;
  const executor = (local: LocalExecutor): Executor => ({
    kind: local.kind,
    start(ctx) {
      const a = local.start(ctx);
      if (++attempts > 1 && o.firstAttemptOnly) return a;
      const done = a.done.then((out) =>
        out.type !== 'exited'
          ? out
          : {
              ...out,
              artifacts: async () => {
                uploading();
                await gate;
                return out.artifacts();
              },
            },
      );
      return { done, stop: (graceMs) => a.stop(graceMs), cleanUp: () => a.cleanUp() };
    },
    close: () => local.close(),
  });
  /** `started`: an upload is waiting at the gate; `letThrough()` opens it for good. */
  return { executor, started, letThrough };
}

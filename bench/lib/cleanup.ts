/**
 * Synchronous clean-ups that must run however a bench ends: normally, by an exception, or by
 * Ctrl-C. Each returns an unregister function for the normal path.
 */
const tasks = new Set<() => void>();
let installed = false;

function runAll() {
  for (const t of [...tasks].reverse()) {
    tasks.delete(t);
    try {
      t();
    } catch {
      // Best effort: the rest still run.
    }
  }
}

export function onCleanup(task: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', runAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        runAll();
        process.exit(130);
      });
    }
  }
  tasks.add(task);
  return () => tasks.delete(task);
}

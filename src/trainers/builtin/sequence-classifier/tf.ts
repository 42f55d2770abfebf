/**
 * Which TensorFlow.js backend runs the math. `@tensorflow/tfjs-node` (native libtensorflow)
 * is one or two orders of magnitude faster than the pure-JS `cpu` backend, but it is an
 * optional install with native binaries, so it is only ever probed for, never required.
 *
 * Every module imports `@tensorflow/tfjs` statically: the engine and kernel registry are
 * process-wide singletons (kept on globalThis), so a tfjs-node that registers its
 * `tensorflow` backend is used by this copy of the library too.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };

let ready: Promise<string> | undefined;

/**
 * Picks the backend once per process and returns its name. `onInfo` hears which one (the
 * trainer logs it; the API server loading a predictor does not need to).
 */
export function initBackend(onInfo?: (message: string) => void): Promise<string> {
  ready ??= select(onInfo);
  return ready;
}

async function select(onInfo?: (message: string) => void): Promise<string> {
  // Production mode drops tfjs's debug checks and its "install tfjs-node" console banner,
  // which would otherwise land in every job's log as stderr noise.
  tf.enableProdMode();
  try {
    // A variable specifier keeps TypeScript from resolving a module that is usually absent.
    const nativeModule = '@tensorflow/tfjs-node';
    await import(nativeModule);
    if (await tf.setBackend('tensorflow')) {
      await tf.ready();
      onInfo?.('TensorFlow.js backend: tensorflow (native, @tensorflow/tfjs-node)');
      return 'tensorflow';
    }
  } catch {
    // Not installed, or its native library failed to load: the pure-JS backend still works.
  }
  await tf.setBackend('cpu');
  await tf.ready();
  onInfo?.('TensorFlow.js backend: cpu (pure JavaScript; install @tensorflow/tfjs-node for much faster training)');
  return 'cpu';
}

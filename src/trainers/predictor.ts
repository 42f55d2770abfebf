/**
 * The predictor contract: how serving talks to a trained model. A runtime hands the model
 * cache a `PredictorModule` for a trainer; the cache materialises a version's artifacts into a
 * folder (files named after the artifacts) and calls `loadPredictor(dir)` once per loaded
 * version. Built-in trainers implement it in-process (their predictor.ts), Python packs with a
 * child process (src/python/predictor.ts). Errors thrown by predict() are about the request
 * (the server maps them to 400), so their messages say what was wrong with which instance;
 * except PredictorFailure: the predictor itself is broken (its process exited, it stopped
 * answering), so the server answers 503 and drops it from the cache to load it afresh.
 */
export class PredictorFailure extends Error {
  readonly code = 'PREDICTOR_FAILED';
}

export interface Prediction {
  /** The class in its original type (src/trainers/builtin/labels.ts): 3, not "3". */
  label: string | number | boolean;
  /** Keyed by the class's text (JSON keys are strings). */
  probabilities: Record<string, number>;
  /** Missing values this instance had that the documented policy filled (training mean); absent when none. */
  filled?: number;
}

export interface Predictor {
  predict(instances: unknown[]): Promise<Prediction[]>;
  /** Size of the loaded model: what keeping this predictor cached costs, roughly. */
  readonly bytes: number;
  dispose(): void;
  /** Predictors backed by a process: resolves once it has exited (clean shutdown). */
  close?(): Promise<void>;
}

/** What a built-in trainer's predictor.js exports, and what a runtime returns for serving. */
export interface PredictorModule {
  loadPredictor(dir: string): Promise<Predictor>;
}

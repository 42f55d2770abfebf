/**
 * The TensorBoard events file every training job's version carries (src/worker/tensorboard.ts)
 * is a record of the run, not part of the model: whatever loads a model (serving, a warm
 * start, a facade picking the weights) leaves it out.
 */
export const EVENTS_FORMAT = 'tfevents';

export const isModelFile = (a: { format: string }): boolean => a.format !== EVENTS_FORMAT;

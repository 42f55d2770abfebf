import type { Facade } from '../types.js';

/** Seed 002, the text-classifier training service. (Skeleton: the routes arrive with the facade.) */
export const trainingService: Facade = {
  name: 'training-service',
  tag: { name: 'compat: training-service', description: 'The text-classifier training service (seed 002), served over Trainyard jobs' },
  errorRef: 'Error#',
  async plugin() {},
};

import type { Facade } from '../types.js';

/** Seed 001, the EEG training API. (Skeleton: the routes arrive with the facade.) */
export const neurolab: Facade = {
  name: 'neurolab',
  tag: { name: 'compat: neurolab', description: 'The EEG training API (seed 001), served over Trainyard jobs' },
  errorRef: 'Error#',
  async plugin() {},
};

import type { PricingRule } from '../catalog/types.js';

/** Credits for a job, always a whole number (rounded up): the ledger counts integers. */
export function priceJob(rule: PricingRule, hyperparameters: Record<string, unknown>, datasetRows = 0): number {
  switch (rule.type) {
    case 'fixed':
      return Math.ceil(rule.credits);
    case 'tiers': {
      const v = Number(hyperparameters[rule.param] ?? 0);
      const tier = rule.tiers.find((t) => v <= t.up_to) ?? rule.tiers[rule.tiers.length - 1];
      return Math.ceil(tier?.credits ?? 0);
    }
    case 'linear': {
      const v = Number(hyperparameters[rule.param] ?? 0);
      const scale = rule.per_rows ? Math.max(1, datasetRows / rule.per_rows) : 1;
      return Math.ceil(rule.base + rule.per_unit * v * scale);
    }
  }
}

/**
 * A job's price from the trainer's pricing rule (GET /v1/trainers: pricing), the hyperparameters
 * with their defaults and the dataset's rows. The API has no estimate endpoint; the rule is
 * public, so the form applies it with the server's own function (src/domain/jobs/pricing.ts,
 * dependency-free and bundled as is), and a 402 from POST /v1/jobs remains the final word.
 */
import type { PricingRule } from '../../../../src/domain/catalog/types.js';
import { priceJob as serverPrice } from '../../../../src/domain/jobs/pricing.js';

export type { PricingRule };

export function readPricing(p: unknown): PricingRule | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const r = p as Record<string, unknown>;
  const n = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (r.type === 'fixed' && n(r.credits)) return { type: 'fixed', credits: r.credits as number };
  if (r.type === 'tiers' && typeof r.param === 'string' && Array.isArray(r.tiers)) {
    const tiers = (r.tiers as unknown[]).flatMap((t) => {
      const x = t as Record<string, unknown> | null;
      return x && n(x.up_to) && n(x.credits) ? [{ up_to: x.up_to as number, credits: x.credits as number }] : [];
    });
    return { type: 'tiers', param: r.param, tiers };
  }
  if (r.type === 'linear' && typeof r.param === 'string' && n(r.base) && n(r.per_unit))
    return {
      type: 'linear',
      param: r.param,
      base: r.base as number,
      per_unit: r.per_unit as number,
      ...(n(r.per_rows) ? { per_rows: r.per_rows as number } : {}),
    };
  return undefined;
}

export interface Price {
  credits: number;
  /** How it was reached, in words: "1 + 0.1 × epochs (100)". */
  how: string;
}

/** The server's price, and how it was reached in words for the form. */
export function priceJob(rule: PricingRule, hp: Record<string, unknown>, datasetRows = 0): Price {
  const credits = serverPrice(rule, hp, datasetRows);
  switch (rule.type) {
    case 'fixed':
      return { credits, how: 'a fixed price' };
    case 'tiers': {
      const v = Number(hp[rule.param] ?? 0);
      const tier = rule.tiers.find((t) => v <= t.up_to) ?? rule.tiers[rule.tiers.length - 1];
      return { credits, how: `${rule.param} ${v}: the tier up to ${tier?.up_to ?? '—'}` };
    }
    case 'linear': {
      const v = Number(hp[rule.param] ?? 0);
      const scale = rule.per_rows ? Math.max(1, datasetRows / rule.per_rows) : 1;
      const rows = rule.per_rows ? ` × ${Math.round(scale * 100) / 100} (${datasetRows} rows per ${rule.per_rows})` : '';
      return { credits, how: `${rule.base} + ${rule.per_unit} × ${rule.param} (${v})${rows}, rounded up` };
    }
  }
}

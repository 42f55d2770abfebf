/**
 * EXPERIMENT, opt-in with AUTH_CACHE=<ms>: what GET throughput would be if an authenticated
 * bearer token's principal were reused for a short time instead of being resolved against the
 * database (and, for a JWT, re-verified) on every request. It patches
 * AccountsService.prototype.authenticate in this process at run time; src/ is unchanged and
 * the default run measures the shipped behaviour. A real change would also need invalidation
 * (role change, disabled user, revoked key) — e.g. over NOTIFY — which this does not model.
 */
import { AccountsService, type Principal } from '../../src/domain/accounts/service.js';

export const authCacheMs = Number(process.env.AUTH_CACHE ?? 0);

export function applyAuthExperiment(): void {
  if (!authCacheMs) return;
  const cache = new Map<string, { p: Principal; until: number }>();
  const authenticate = AccountsService.prototype.authenticate;
  AccountsService.prototype.authenticate = async function (this: AccountsService, token: string) {
    const hit = cache.get(token);
    if (hit && hit.until > Date.now()) return hit.p;
    const p = await authenticate.call(this, token);
    cache.set(token, { p, until: Date.now() + authCacheMs });
    return p;
  };
}

import { execFileSync } from 'node:child_process';

/** util-linux setpriv: the uid switch and PR_SET_PDEATHSIG of the trainer sandbox go through it. */
export const hasSetpriv = (() => {
  try {
    execFileSync('setpriv', ['--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Whether tests that need setpriv run. On CI they always do, so a machine without util-linux
 * fails them rather than skipping them quietly; a developer's machine without it skips.
 */
export const runSetprivTests = hasSetpriv || process.env.CI === 'true';

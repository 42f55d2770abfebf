import { readdirSync, readFileSync } from 'node:fs';

/**
 * The pids of this machine's processes whose command line contains every one of `parts`
 * (this test process excluded): how a test proves a child it cannot hold a handle on (a
 * prediction process, a Slurm job's trainer) started or is gone.
 */
export function processesWith(...parts: string[]): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (parts.every((p) => cmd.includes(p))) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

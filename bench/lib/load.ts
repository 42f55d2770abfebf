import { startChild } from './child.js';
import { cpuMeter, waitForQuiet, type Groups } from './cpu.js';
import type { LoadRequest, LoadResult } from './load-child.js';

/**
 * Runs one closed-loop HTTP load in a separate process (bench/lib/load-child.ts) and meters the
 * CPU (cores) that the server (this process), the load generator and any extra `groups` used
 * during the measured window. Waits for a quiet machine first (bench/lib/cpu.ts waitForQuiet).
 */
export async function runLoad(r: Omit<LoadRequest, 'kind'>, groups: Groups = {}): Promise<LoadResult & { cpu: Record<string, number> }> {
  await waitForQuiet();
  const child = startChild('load-child.ts');
  const pid = child.proc.pid!;
  await child.next('ready');
  child.send({ kind: 'run', ...r });
  let stop: (() => Record<string, number>) | null = null;
  const timer = setTimeout(() => (stop = cpuMeter({ server: () => [process.pid], 'load generator': () => [pid], ...groups })), r.warmupMs);
  const res = await child.next<LoadResult>('result');
  clearTimeout(timer);
  const cpu = (stop as (() => Record<string, number>) | null)?.() ?? {};
  await child.exited;
  return { ...res, cpu };
}

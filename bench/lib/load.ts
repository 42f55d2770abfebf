import { startChild } from './child.js';
import type { LoadRequest, LoadResult } from './load-child.js';

/** Runs one closed-loop HTTP load in a separate process (bench/lib/load-child.ts). */
export async function runLoad(r: Omit<LoadRequest, 'kind'>): Promise<LoadResult> {
  const child = startChild('load-child.ts');
  child.send({ kind: 'run', ...r });
  const res = await child.next<LoadResult>('result');
  await child.exited;
  return res;
}

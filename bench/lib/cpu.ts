/**
 * CPU time per process group from /proc (Linux), to tell which process a figure is bound by:
 * the server, the load generator, or the Postgres backends. Times are user + system seconds.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm) ": state(0) ... utime(11) stime(12) cutime(13) cstime(14)
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return 0;
  }
}

function pidsNamed(name: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name) out.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Whole machine from /proc/stat: [busy, steal] seconds (steal: time the hypervisor gave to others). */
function machineSeconds(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return [(user + nice + system + irq + softirq) / TICKS, steal / TICKS];
}

export type Groups = Record<string, () => number[]>;

/** Snapshot now; call the returned function after the interval for cores used per group (plus `machine` and `steal`). */
export function cpuMeter(groups: Groups): () => Record<string, number> {
  const t0 = performance.now();
  const start = new Map<number, number>();
  for (const get of Object.values(groups)) for (const pid of get()) start.set(pid, cpuSeconds(pid));
  const [busy0, steal0] = machineSeconds();
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const [busy1, steal1] = machineSeconds();
    // 'machine': all cores busy (any process); 'steal': cores the hypervisor took away.
    const out: Record<string, number> = { machine: (busy1 - busy0) / secs, steal: (steal1 - steal0) / secs };
    for (const [name, get] of Object.entries(groups)) {
      let used = 0;
      // A process that started during the interval counts from zero.
      for (const pid of get()) used += cpuSeconds(pid) - (start.get(pid) ?? 0);
      out[name] = used / secs;
    }
    // Everything else on the machine (other people's builds and tests, on a shared box).
    out.others = Math.max(0, out.machine! - Object.keys(groups).reduce((a, k) => a + out[k]!, 0));
    return out;
  };
}

/** Cores busy on the whole machine over `ms`. */
export async function machineBusy(ms = 1000): Promise<number> {
  const [b0] = machineSeconds();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const [b1] = machineSeconds();
  return (b1 - b0) / ((performance.now() - t0) / 1000);
}

/**
 * Waits (up to QUIET_WAIT_S, default 180 s) until the machine is nearly idle before a
 * measurement: on a shared machine another process's build or test run would otherwise end up
 * in the figures. After that it measures anyway (and says so); the benches also report the CPU
 * that others used during each measurement. Returns the busy cores last seen.
 */
export async function waitForQuiet(maxWaitMs = Number(process.env.QUIET_WAIT_S ?? 180) * 1000, threshold = 0.3, windowMs = 1000): Promise<number> {
  const until = Date.now() + maxWaitMs;
  let busy = await machineBusy(windowMs);
  let told = false;
  const start = Date.now();
  while (busy > threshold && Date.now() < until) {
    if (!told && Date.now() - start > 2000) {
      console.error(`waiting for the machine to quieten down (${busy.toFixed(2)} cores busy elsewhere)…`);
      told = true;
    }
    busy = await machineBusy(Math.max(windowMs, 500));
  }
  if (busy > threshold) console.error(`measuring anyway: ${busy.toFixed(2)} cores still busy elsewhere`);
  return busy;
}

export const postgresPids = () => pidsNamed('postgres');

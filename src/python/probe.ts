import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { packEnv } from './env.js';

export interface ProbeReport {
  /** entry → null when it imports cleanly, else the reason. */
  packs: Record<string, string | null>;
  cuda: boolean;
  versions: Record<string, string | null>;
  python?: string;
}

// Importing torch + diffusers + transformers takes ~6 s on a 2-core machine; a minute covers a
// cold disk cache without letting a wedged interpreter hold the catalog forever.
const PROBE_TIMEOUT_MS = 120_000;

/**
 * Asks the trainer environment, once, whether each pack imports, and caches the answer: the
 * catalog marks a Python trainer available only when it does, with the import error otherwise.
 * `refresh()` probes again (admin catalog reload, or after `trainyard setup python`).
 */
export class PythonProbe {
  private cached: Promise<ProbeReport> | null = null;
  private batch: Promise<ProbeReport> | null = null;
  private readonly covered = new Set<string>();
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly python: string) {}

  /**
   * Whether `entry` imports. Entries asked for in the same tick share one probe process (the
   * catalog asks for every Python trainer at once): importing torch three times would cost ~20 s.
   */
  async check(entry: string): Promise<string | null> {
    if (!existsSync(this.python)) return `the Python trainer environment is not set up: ${this.python} does not exist (run \`trainyard setup python\`)`;
    if (!this.cached || !this.covered.has(entry)) {
      this.covered.add(entry);
      this.batch ??= new Promise<void>((r) => setImmediate(r)).then(() => {
        this.batch = null;
        return this.run([...this.covered]);
      });
      this.cached = this.batch;
    }
    const report = await this.cached;
    return entry in report.packs ? report.packs[entry]! : 'not probed yet';
  }

  /** Forget the cached answer: the next check probes again (admin catalog reload, after setup). */
  refresh(): void {
    this.cached = null;
  }

  /** The last answer, for the catalog's environment summary; null until a probe has finished. */
  async report(): Promise<ProbeReport | null> {
    return this.cached;
  }

  private run(entries: string[]): Promise<ProbeReport> {
    return new Promise((resolve) => {
      const child = execFile(
        this.python,
        ['-m', 'trainyard_common.probe', ...entries],
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...packEnv() },
          timeout: PROBE_TIMEOUT_MS,
          maxBuffer: 1024 * 1024,
        },
        (err, stdout, stderr) => {
          this.children.delete(child);
          const line = stdout.trim().split('\n').pop() ?? '';
          try {
            const r = JSON.parse(line) as ProbeReport;
            if (r && typeof r.packs === 'object') return resolve(r);
          } catch {
            /* reported below */
          }
          const why = err ? `${err.message.split('\n')[0]} ${stderr.trim().split('\n').slice(-1)[0] ?? ''}`.trim() : 'the probe printed no report';
          resolve({
            packs: Object.fromEntries(entries.map((e) => [e, `the Python trainer environment did not answer the probe: ${why}`.slice(0, 500)])),
            cuda: false,
            versions: {},
          });
        },
      );
      this.children.add(child);
    });
  }

  /** Shutdown: a probe still importing torch must not outlive the process that asked. */
  close(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }
}

/**
 * The program of a pre-started Node trainer process (warm-pool.ts; "Warm trainers" in the
 * README's "How to add a trainer"). It runs as `node [the trainer's node flags]
 * --input-type=module -e <this> [--preload <module>]...` in the trainer's sandbox before any job
 * exists: source text rather than a file, so a trainer run from source is not also put through
 * tsx, and no file on disk can be swapped under a later spare. It imports the heavy modules it
 * is told to (tfjs), then waits for ONE line on stdin:
 *
 *   {"module": "/abs/main.js", "argv": ["...", "--spec", "/abs/job.json"], "cwd": "/abs/job", "env": {...}}
 *
 * and becomes that trainer: the job's environment replaces its own, it moves into the job folder,
 * process.argv is what a cold start would have had, and the module is imported, so its first
 * statement runs now. It serves exactly one job. stdin closing without a line (the worker stopped
 * or died) ends it quietly. A module that throws at top level ends it as node would: the error on
 * stderr, exit code 1.
 */
export const WARM_HOST_MARK = 'trainyard-warm-host';

/**
 * An empty module the host imports from a file before its job (`--prime`, a file in the spare's
 * own folder): the first import of a file is where Node sets up its ESM file loader (resolution,
 * format detection, the module translators), 2-4 ms of the hand-over otherwise paid after the
 * job's line arrived (issue #15, pickup latency). A failure to import it only costs that time.
 */
export const PRIMER = '// trainyard warm host: warms the ESM file loader before the job (warm-host.ts)\nexport {};\n';

export const WARM_HOST_SOURCE = `/* ${WARM_HOST_MARK} */
import { pathToFileURL } from 'node:url';
const args = process.argv.slice(1);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--preload') await import(pathToFileURL(args[++i]).href);
  else if (args[i] === '--prime') await import(pathToFileURL(args[++i]).href).catch(() => {});
}
const line = await new Promise((resolve) => {
  let buf = '';
  const onData = (chunk) => {
    buf += chunk;
    const nl = buf.indexOf('\\n');
    if (nl < 0) return;
    process.stdin.removeListener('data', onData);
    process.stdin.removeListener('end', onEnd);
    process.stdin.pause();
    resolve(buf.slice(0, nl));
  };
  const onEnd = () => resolve(null);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', onData);
  process.stdin.once('end', onEnd);
});
if (line === null) process.exit(0);
const job = JSON.parse(line);
for (const k of Object.keys(process.env)) delete process.env[k];
Object.assign(process.env, job.env);
process.chdir(job.cwd);
process.argv.splice(1, Infinity, job.module, ...job.argv);
process.stdin.unref();
try {
  await import(pathToFileURL(job.module).href);
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
`;

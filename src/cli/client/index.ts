// The command-line client: the `trainyard` subcommands that talk to a server over HTTP.
// main.ts imports this module only for these commands; nothing here may import the server's
// modules (test/unit/launcher-imports.test.ts checks the client's import graph too).
import { Command, CommanderError } from 'commander';
import { register as registerAuth } from './auth.js';
import { register as registerCatalog } from './catalog.js';
import { ClientError, DEFAULT_URL, EXIT } from './http.js';
import { register as registerJobs } from './jobs.js';
import { register as registerModels } from './models.js';
import type { GlobalOpts } from './output.js';
import { register as registerUpload } from './upload.js';
import { register as registerWatch } from './watch.js';

export const CLIENT_HELP = `
Environment:
  TRAINYARD_URL      the server (default ${DEFAULT_URL}; \`login --url\` stores one)
  TRAINYARD_API_KEY  an API key; overrides the one \`login\` stored
  XDG_CONFIG_HOME    where \`login\` keeps trainyard/config.json (default ~/.config; mode 0600)

Exit status:
  0 ok, 1 an error (printed as "trainyard: <code>: <message>"), 2 a usage error;
  watch, train --watch and jobs logs -f: 0 succeeded, 1 failed, 3 cancelled.`;

export function buildProgram(): Command {
  const p = new Command('trainyard');
  p.option('--json', 'print JSON for scripts instead of tables')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) })
    .addHelpText('after', CLIENT_HELP);
  const g = () => p.opts<GlobalOpts>();
  registerAuth(p, g);
  registerUpload(p, g);
  registerCatalog(p, g);
  registerJobs(p, g);
  registerWatch(p, g);
  registerModels(p, g);
  // Every command's --help ends with the environment and the exit statuses.
  const withHelp = (c: Command): void => {
    for (const sub of c.commands) {
      sub.addHelpText('after', CLIENT_HELP);
      withHelp(sub);
    }
  };
  withHelp(p);
  return p;
}

/** Runs one client command; never throws: errors are printed and become the exit status. */
export async function clientCommand(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; commander has already printed what went wrong.
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (err instanceof ClientError) {
      console.error(`trainyard: ${err.code}: ${err.message}`);
      process.exitCode = err.exit;
      return;
    }
    console.error(`trainyard: ERROR: ${(err as Error)?.message ?? String(err)}`);
    process.exitCode = EXIT.error;
  }
}

import { hostname } from 'node:os';
import type { Command } from 'commander';
import { Api, configFile, DEFAULT_URL, loadSettings, readJsonFile, seg, usage, writePrivateJson, type StoredConfig } from './http.js';
import { emit, printFields, type GlobalOpts } from './output.js';
import { ask, askHidden, isInteractive, readStdin } from './prompt.js';

interface LoginOpts {
  url?: string;
  username?: string;
  passwordStdin?: boolean;
  apiKey?: string;
  /** signup: create the account first. */
  email?: string;
}

async function readPassword(o: LoginOpts): Promise<string> {
  if (o.passwordStdin) return readStdin();
  if (isInteractive()) return askHidden('Password: ');
  throw usage('no terminal to ask for the password: pipe it with --password-stdin');
}

/**
 * Logs in with a password and stores an API key made for this machine, not the session token:
 * a token expires within hours, a key lasts until it is revoked (`trainyard logout` does).
 * `--api-key` stores a key made elsewhere (a service account's) after checking it works.
 */
async function login(o: LoginOpts, g: GlobalOpts): Promise<void> {
  const stored = (await readJsonFile<StoredConfig>(configFile())) ?? {};
  const url = (o.url || process.env.TRAINYARD_URL || stored.url || DEFAULT_URL).replace(/\/+$/, '');
  let key = o.apiKey;
  let username: string;
  if (key) {
    username = (await new Api(url, key).get<{ username: string }>('/v1/me')).username;
  } else {
    username = o.username ?? (isInteractive() ? (await ask('Username: ')).trim() : '');
    if (!username) throw usage('give --username (or run login on a terminal to be asked)');
    const password = await readPassword(o);
    const anon = new Api(url, null);
    if (o.email !== undefined) await anon.post('/v1/auth/signup', { username, email: o.email, password });
    const { access_token } = await anon.post<{ access_token: string }>('/v1/auth/login', { username, password });
    const session = new Api(url, access_token);
    // Logging in again replaces this machine's key rather than piling up keys.
    if (stored.api_key && stored.url === url) await revoke(session, stored.api_key);
    const created = await session.post<{ secret: string }>('/v1/api-keys', { name: `trainyard cli on ${hostname()}`.slice(0, 100) });
    key = created.secret;
  }
  await writePrivateJson(configFile(), { ...stored, url, api_key: key, username } satisfies StoredConfig);
  emit(g, { url, username, config: configFile() }, () => console.log(`logged in to ${url} as ${username} (credentials in ${configFile()})`));
}

/** Revokes `key` (found by its prefix among the caller's keys); best effort: it may be gone already. */
async function revoke(api: Api, key: string): Promise<void> {
  const keys = await api.get<{ data: Array<{ id: string; prefix: string }> }>('/v1/api-keys').catch(() => ({ data: [] }));
  const k = keys.data.find((x) => key.startsWith(`${x.prefix}_`));
  if (k) await api.call('DELETE', `/v1/api-keys/${seg(k.id)}`).catch(() => undefined);
}

async function logout(g: GlobalOpts): Promise<void> {
  const stored = (await readJsonFile<StoredConfig>(configFile())) ?? {};
  // Revoke the key login made, when the server still knows it; forgetting it locally is what matters.
  if (stored.api_key) await revoke(new Api((stored.url ?? DEFAULT_URL).replace(/\/+$/, ''), stored.api_key), stored.api_key);
  const { api_key: _key, username: _user, ...rest } = stored;
  await writePrivateJson(configFile(), rest);
  emit(g, { logged_out: true }, () => console.log('logged out'));
}

async function whoami(g: GlobalOpts): Promise<void> {
  const s = await loadSettings();
  const me = await new Api(s.url, s.credential).get<Record<string, unknown>>('/v1/me');
  emit(g, { url: s.url, ...me }, () => printFields({ url: s.url, ...me }, ['url', 'username', 'email', 'role', 'id']));
}

export function register(program: Command, g: () => GlobalOpts): void {
  program
    .command('login')
    .description('log in and store an API key for this machine in $XDG_CONFIG_HOME/trainyard/config.json (mode 0600)')
    .option('--url <url>', `the server (default: TRAINYARD_URL, else the stored one, else ${DEFAULT_URL})`)
    .option('-u, --username <name>', 'username or email (asked on a terminal)')
    .option('--password-stdin', 'read the password from stdin (asked without echo on a terminal)')
    .option('--api-key <key>', 'store this API key instead of logging in with a password')
    .action((o: LoginOpts) => login(o, g()));
  program
    .command('signup')
    .description('create an account, then log in as login does')
    .option('--url <url>', `the server (default: TRAINYARD_URL, else the stored one, else ${DEFAULT_URL})`)
    .requiredOption('-u, --username <name>', 'username')
    .requiredOption('--email <email>', 'email address')
    .option('--password-stdin', 'read the password from stdin (asked without echo on a terminal)')
    .action((o: LoginOpts) => login(o, g()));
  program
    .command('logout')
    .description('revoke the stored API key and forget it')
    .action(() => logout(g()));
  program
    .command('whoami')
    .description('the account the stored credential (or TRAINYARD_API_KEY) acts as')
    .action(() => whoami(g()));
}

// The client's one HTTP layer: where the server is, which credential to send, and how an
// error answer becomes `trainyard: <code>: <message>`. Only node built-ins: the client
// commands must never load the server's graph (fastify, the database drivers, the S3 SDK).
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * An API answer as the client handles it: printed, or read a field or two, never computed
 * with deeply; the server's TypeBox schemas are its contract, and the client does not repeat them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Exit statuses, documented in `trainyard --help`. */
export const EXIT = { ok: 0, error: 1, usage: 2, cancelled: 3 } as const;

/** An error the client prints as `trainyard: <code>: <message>` and exits with `exit`. */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exit: number = EXIT.error,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The exit status for a finished job: 0 succeeded, 1 failed, 3 cancelled. */
export const outcomeCode = (status: string): number => (status === 'succeeded' ? EXIT.ok : status === 'cancelled' ? EXIT.cancelled : EXIT.error);

export const usage = (message: string) => new ClientError('USAGE', message, EXIT.usage);

/** What `login` stores: the server and a credential that does not expire (an API key). */
export interface StoredConfig {
  url?: string;
  api_key?: string;
  username?: string;
}

export function configDir(): string {
  return path.join(process.env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'trainyard');
}

export const configFile = () => path.join(configDir(), 'config.json');

export async function readJsonFile<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ClientError('CONFIG_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Writes a file in the config folder readable by its owner only: the folder 0700, the file
 * 0600 from its first byte (written under another name, then renamed over the old one), and
 * chmod again because mkdir and open leave an existing folder's or file's mode as it was.
 */
export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

export interface Settings {
  url: string;
  credential: string | null;
}

/** TRAINYARD_URL and TRAINYARD_API_KEY override what `login` stored. */
export async function loadSettings(): Promise<Settings> {
  const stored = (await readJsonFile<StoredConfig>(configFile())) ?? {};
  const url = (process.env.TRAINYARD_URL || stored.url || DEFAULT_URL).replace(/\/+$/, '');
  return { url, credential: process.env.TRAINYARD_API_KEY || stored.api_key || null };
}

export interface RequestOptions {
  json?: unknown;
  body?: RequestInit['body'];
  headers?: Record<string, string>;
  /** The answer as it came (a stream, an SSE body): no parsing, no error mapping. */
  raw?: boolean;
  signal?: AbortSignal;
}

/** A small API client: JSON in and out, the bearer credential on every call. */
export class Api {
  constructor(
    readonly url: string,
    private readonly credential: string | null,
  ) {}

  static async fromEnv(): Promise<Api> {
    const s = await loadSettings();
    return new Api(s.url, s.credential);
  }

  async response(method: string, p: string, o: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...o.headers };
    if (this.credential) headers.authorization = `Bearer ${this.credential}`;
    let body = o.body;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    try {
      return await fetch(new URL(p, this.url + '/'), { method, headers, body, signal: o.signal, ...(body ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ClientError(
        'UNREACHABLE',
        `cannot reach ${this.url} (${cause?.code ?? cause?.message ?? (err as Error).message}); set TRAINYARD_URL or run \`trainyard login --url URL\``,
      );
    }
  }

  async call<T = Obj>(method: string, p: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.response(method, p, o);
    if (!res.ok) throw await errorFrom(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return ((res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text) as T;
  }

  get = <T = Obj>(p: string) => this.call<T>('GET', p);
  post = <T = Obj>(p: string, json?: unknown) => this.call<T>('POST', p, json === undefined ? {} : { json });
}

/**
 * The first item of a cursor-paged list (`path`, newest first) that `pred` accepts, reading
 * page after page: a name or checksum looked up among the newest 100 only missed older ones.
 */
export async function findPaged<T extends Obj>(api: Api, path: string, pred: (x: T) => boolean, pageSize = 200): Promise<T | null> {
  let cursor: string | null = null;
  do {
    const page: { data: T[]; next_cursor?: string | null } = await api.get(
      `${path}${path.includes('?') ? '&' : '?'}limit=${pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    const hit = page.data.find(pred);
    if (hit) return hit;
    cursor = page.next_cursor ?? null;
  } while (cursor);
  return null;
}

/** Tells a reader of a list that only its first page was shown (on stderr: stdout stays the table or the JSON). */
export function moreNote(page: { next_cursor?: string | null; has_more?: boolean }, what: string): void {
  if (page.next_cursor || page.has_more) console.error(`(the newest 100 ${what}; there are more)`);
}

/** The API's `{error: {code, message}}`, or the status line when the answer is something else. */
export async function errorFrom(res: Response): Promise<ClientError> {
  const text = await res.text().catch(() => '');
  let code = `HTTP_${res.status}`;
  let message = text.slice(0, 500) || res.statusText;
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) code = e.code;
    if (e?.message) message = e.message;
  } catch {
    // not JSON: keep the text
  }
  if (res.status === 401) message += '; run `trainyard login` or set TRAINYARD_API_KEY';
  return new ClientError(code, message, EXIT.error, res.status);
}

/** Paths take ids and names from the command line: encode each segment. */
export const seg = (s: string | number) => encodeURIComponent(String(s));

/**
 * SSRF address guard: decides whether an IP address may be contacted by the server on a user's
 * behalf (URL imports, webhooks). Default-deny for everything that is not ordinary public
 * unicast; an operator can open specific non-public ranges with an explicit allowlist.
 *
 * Every IP string goes through one parser (`parseIp`) that canonicalizes it the way the network
 * stack would (legacy IPv4 forms such as `127.1`, `0177.0.0.1`, `2130706433`; IPv6 with an
 * embedded dotted quad), and IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is unwrapped and judged as IPv4.
 */
import { promises as dns } from 'node:dns';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';

export interface AddressPolicy {
  /** IPs or CIDRs explicitly permitted although non-public. Empty in production. */
  allow: string[];
}

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified' | 'metadata' | 'reserved';

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

type IP = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [IP, number];

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses an IP literal into its canonical form, or returns null when `input` is not one.
 * Accepts brackets (`[::1]`), IPv6 zone ids (dropped), and the legacy IPv4 spellings that
 * inet_aton and the WHATWG URL parser both accept. IPv4-mapped IPv6 is unwrapped to IPv4.
 */
function parseIp(input: string): IP | null {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s === '') return null;

  if (isIPv4(s)) return unwrap(ipaddr.IPv4.parse(s));

  const zone = s.indexOf('%');
  const noZone = zone >= 0 ? s.slice(0, zone) : s;
  if (isIPv6(noZone)) {
    // ipaddr.js mis-parses `::a.b.c.d` (IPv4-compatible) as IPv4-mapped, so let the WHATWG host
    // parser (RFC-correct) rewrite any embedded dotted quad into hex groups first.
    let canonical = noZone;
    if (noZone.includes('.')) {
      const host = whatwgHost(`[${noZone}]`);
      if (host === null) return null;
      canonical = host.slice(1, -1);
    }
    return unwrap(ipaddr.IPv6.parse(canonical));
  }

  // Legacy IPv4 spellings: octal/hex parts, fewer than four parts, a single 32-bit number.
  if (/^[0-9a-fx.]+$/i.test(s) && /[0-9]/.test(s)) {
    const host = whatwgHost(s);
    if (host !== null && isIPv4(host)) return ipaddr.IPv4.parse(host);
  }
  return null;
}

/** The WHATWG URL parser's view of a host (lower-cased, IDNA, IPv4/IPv6 normalized), or null. */
function whatwgHost(host: string): string | null {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return null;
  }
}

function unwrap(ip: IP): IP {
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

function cidr(spec: string): Cidr {
  const [ip, bits] = ipaddr.parseCIDR(spec);
  return [ip, bits];
}

function inAny(ip: IP, ranges: readonly Cidr[]): boolean {
  return ranges.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits));
}

// ---------------------------------------------------------------------------------------------
// Classification tables (IANA special-purpose registries, RFC 6890 and successors)

/** Exact cloud metadata endpoints (AWS/GCP/Azure/OCI/DO, AWS ECS task metadata, Alibaba, AWS IPv6). */
const METADATA = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254']);

const V4: ReadonlyArray<[Exclude<AddressClass, 'public' | 'metadata'>, Cidr[]]> = [
  ['unspecified', [cidr('0.0.0.0/8')]],
  ['loopback', [cidr('127.0.0.0/8')]],
  ['private', [cidr('10.0.0.0/8'), cidr('172.16.0.0/12'), cidr('192.168.0.0/16'), cidr('100.64.0.0/10')]],
  ['link-local', [cidr('169.254.0.0/16')]],
  ['multicast', [cidr('224.0.0.0/4')]],
  [
    'reserved',
    [
      cidr('192.0.0.0/24'), // IETF protocol assignments (incl. DS-Lite, NAT64 discovery)
      cidr('192.0.2.0/24'), // TEST-NET-1
      cidr('192.88.99.0/24'), // 6to4 relay anycast (deprecated)
      cidr('198.18.0.0/15'), // benchmarking
      cidr('198.51.100.0/24'), // TEST-NET-2
      cidr('203.0.113.0/24'), // TEST-NET-3
      cidr('240.0.0.0/4'), // future use, includes 255.255.255.255 broadcast
    ],
  ],
];

const V6: ReadonlyArray<[Exclude<AddressClass, 'public' | 'metadata'>, Cidr[]]> = [
  ['unspecified', [cidr('::/128')]],
  ['loopback', [cidr('::1/128')]],
  ['private', [cidr('fc00::/7'), cidr('fec0::/10')]], // unique-local, deprecated site-local
  ['link-local', [cidr('fe80::/10')]],
  ['multicast', [cidr('ff00::/8')]],
  [
    'reserved',
    [
      cidr('::/96'), // IPv4-compatible (deprecated)
      cidr('::ffff:0:0:0/96'), // IPv4-translated (RFC 6145)
      cidr('64:ff9b::/96'), // NAT64 well-known prefix: would reach an embedded IPv4 address
      cidr('64:ff9b:1::/48'), // local-use NAT64
      cidr('100::/64'), // discard prefix
      cidr('2001::/23'), // IETF protocol assignments (Teredo, benchmarking, ORCHID, ...)
      cidr('2001:db8::/32'), // documentation
      cidr('2002::/16'), // 6to4: would reach an embedded IPv4 address
      cidr('3fff::/20'), // documentation (RFC 9637)
      cidr('5f00::/16'), // SRv6 SIDs
    ],
  ],
];

const GLOBAL_UNICAST_V6 = [cidr('2000::/3')];

function classifyParsed(ip: IP): AddressClass {
  if (METADATA.has(ip.toString())) return 'metadata';
  for (const [cls, ranges] of ip.kind() === 'ipv4' ? V4 : V6) {
    if (inAny(ip, ranges)) return cls;
  }
  // Only 2000::/3 is allocated as global unicast; everything else in IPv6 is not (yet) routable.
  if (ip.kind() === 'ipv6' && !inAny(ip, GLOBAL_UNICAST_V6)) return 'reserved';
  return 'public';
}

/** Classifies an IP literal. Throws a plain Error when `ip` is not an IP address. */
export function classifyAddress(ip: string): AddressClass {
  const parsed = parseIp(ip);
  if (!parsed) throw new Error(`Not an IP address: ${JSON.stringify(ip)}`);
  return classifyParsed(parsed);
}

// ---------------------------------------------------------------------------------------------
// Policy

function parseEntry(entry: string): Cidr {
  const bad = (why: string) => new Error(`Invalid address policy entry ${JSON.stringify(entry)}: ${why}`);
  const slash = entry.indexOf('/');
  const addr = slash >= 0 ? entry.slice(0, slash) : entry;
  const bitsText = slash >= 0 ? entry.slice(slash + 1) : undefined;
  // Policy entries must be written canonically: no legacy IPv4 spellings in configuration.
  if (!isIPv4(addr) && !isIPv6(addr)) throw bad('not an IPv4/IPv6 address or CIDR');
  const ip = parseIp(addr);
  if (!ip) throw bad('not an IPv4/IPv6 address or CIDR');
  const wasMapped = isIPv6(addr) && ip.kind() === 'ipv4';
  const max = isIPv4(addr) ? 32 : 128;
  let bits = max;
  if (bitsText !== undefined) {
    if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) throw bad(`prefix length must be 0-${max}`);
    bits = Number(bitsText);
  }
  if (wasMapped) {
    // ::ffff:a.b.c.d/N is the IPv4 range a.b.c.d/(N-96)
    if (bits < 96) throw bad('IPv4-mapped prefix must be /96 or longer');
    bits -= 96;
  }
  return [ip, bits];
}

/** Parses a comma-separated allowlist (`"127.0.0.2/32, 10.1.0.0/16"`); throws naming the bad entry. */
export function parseAddressPolicy(list: string): AddressPolicy {
  const allow: string[] = [];
  for (const raw of list.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [ip, bits] = parseEntry(entry);
    allow.push(`${ip.toString()}/${bits}`);
  }
  return { allow };
}

/**
 * True when `ip` is public, or falls inside `policy.allow`. Cloud metadata endpoints are only
 * opened by an allow entry that is that exact host (/32 or /128), never by a broader range such as
 * 169.254.0.0/16. Invalid IPs are never allowed; an invalid policy entry throws.
 */
export function isAllowedAddress(ip: string, policy: AddressPolicy): boolean {
  const parsed = parseIp(ip);
  if (!parsed) return false;
  return isAllowedParsed(parsed, classifyParsed(parsed), policy);
}

function isAllowedParsed(ip: IP, cls: AddressClass, policy: AddressPolicy): boolean {
  if (cls === 'public') return true;
  const full = ip.kind() === 'ipv4' ? 32 : 128;
  return policy.allow.some((entry) => {
    const [net, bits] = parseEntry(entry);
    if (net.kind() !== ip.kind() || !ip.match(net, bits)) return false;
    return cls !== 'metadata' || bits === full;
  });
}

// ---------------------------------------------------------------------------------------------
// Resolution

/** The OS resolver (getaddrinfo: /etc/hosts, DNS), every answer, in the order the OS gives them. */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

function refused(host: string, ip: IP, cls: AddressClass): AppError {
  const address = ip.toString();
  return new AppError('ADDRESS_NOT_ALLOWED', `Refusing to connect to ${host} (${address} is ${cls})`, {
    status: 400,
    details: { host, address, class: cls },
  });
}

function dnsFailed(host: string, message: string, cause?: unknown): AppError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return new AppError('DNS_FAILED', `Could not resolve ${host}: ${message}`, {
    status: 400,
    details: { host, ...(typeof code === 'string' ? { code } : {}) },
    cause,
  });
}

/**
 * Resolves `hostname` and returns the address to connect to, pinned: callers must connect to
 * exactly this address (not re-resolve), so a DNS answer that changes between check and connect
 * cannot redirect the connection. IP literals (any spelling) are judged without DNS. If any
 * answer is refused the whole host is refused: mixed public/private answers are a rebinding trick.
 */
export async function resolveAllowed(
  hostname: string,
  policy: AddressPolicy,
  resolver: Resolver = systemResolver,
): Promise<{ address: string; family: 4 | 6 }> {
  const literal = parseIp(hostname);
  if (literal) return judge(hostname, [literal], policy);

  // Normalize the name the way URL parsing would (case, IDNA, trailing junk rejected).
  if (/[\s/\\?#@%[\]:]/.test(hostname)) throw dnsFailed(hostname, 'invalid hostname');
  const name = whatwgHost(hostname);
  if (name === null || name === '') throw dnsFailed(hostname, 'invalid hostname');
  const normalizedLiteral = parseIp(name);
  if (normalizedLiteral) return judge(hostname, [normalizedLiteral], policy);

  let answers: Array<{ address: string; family: 4 | 6 }>;
  try {
    answers = await resolver(name);
  } catch (err) {
    throw dnsFailed(hostname, (err as Error)?.message ?? String(err), err);
  }
  if (!Array.isArray(answers) || answers.length === 0) throw dnsFailed(hostname, 'no addresses');
  const parsed = answers.map((a) => {
    const ip = typeof a?.address === 'string' ? parseIp(a.address) : null;
    if (!ip) throw dnsFailed(hostname, `resolver returned an invalid address ${JSON.stringify(a?.address)}`);
    return ip;
  });
  return judge(hostname, parsed, policy);
}

function judge(host: string, ips: IP[], policy: AddressPolicy): { address: string; family: 4 | 6 } {
  for (const ip of ips) {
    const cls = classifyParsed(ip);
    if (!isAllowedParsed(ip, cls, policy)) throw refused(host, ip, cls);
  }
  const first = ips[0]!;
  return { address: first.toString(), family: first.kind() === 'ipv4' ? 4 : 6 };
}

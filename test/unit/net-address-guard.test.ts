import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/errors.js';
import { classifyAddress, isAllowedAddress, parseAddressPolicy, resolveAllowed, systemResolver } from '../../src/net/address-guard.js';
import type { AddressClass, AddressPolicy, Resolver } from '../../src/net/address-guard.js';

const none: AddressPolicy = { allow: [] };

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('classifyAddress', () => {
  const table: Array<[string, AddressClass]> = [
    // IPv4 public
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.216.34', 'public'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['100.63.255.255', 'public'],
    ['100.128.0.0', 'public'],
    ['192.169.0.1', 'public'],
    ['198.20.0.1', 'public'],
    ['223.255.255.255', 'public'],
    // loopback
    ['127.0.0.1', 'loopback'],
    ['127.0.0.2', 'loopback'],
    ['127.255.255.254', 'loopback'],
    // private, incl. CGNAT
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    // link-local and metadata
    ['169.254.0.1', 'link-local'],
    ['169.254.169.253', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    // multicast, unspecified, reserved
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.1', 'reserved'],
    ['192.0.0.170', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['192.88.99.1', 'reserved'],
    // legacy IPv4 spellings are judged by the address they denote
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0x7f.0.0.1', 'loopback'],
    ['127.1', 'loopback'],
    ['012.1', 'private'],
    // IPv6
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:80b::200e', 'public'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fec0::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['fd00:ec2::254', 'metadata'],
    ['fd00:ec2:0:0:0:0:0:254', 'metadata'],
    ['64:ff9b::7f00:1', 'reserved'],
    ['64:ff9b::8.8.8.8', 'reserved'],
    ['64:ff9b:1::1', 'reserved'],
    ['100::1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['2002:7f00:1::', 'reserved'],
    ['3fff::1', 'reserved'],
    ['::7f00:1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['::ffff:0:7f00:1', 'reserved'],
    ['4000::1', 'reserved'],
    // IPv4-mapped IPv6 is unwrapped and judged as IPv4
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
    ['::FFFF:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
  ];

  it.each(table)('%s is %s', (ip, expected) => {
    expect(classifyAddress(ip)).toBe(expected);
  });

  it.each(['example.com', '', '1.2.3.4.5', '::g', '[::1', '256.0.0.1', 'localhost'])('throws on non-IP %j', (s) => {
    expect(() => classifyAddress(s)).toThrow(/Not an IP address/);
  });
});

describe('isAllowedAddress', () => {
  const policy: AddressPolicy = { allow: ['127.0.0.2/32', '10.1.0.0/16', 'fd00:1::/32'] };

  it('allows public addresses with an empty policy', () => {
    expect(isAllowedAddress('8.8.8.8', none)).toBe(true);
    expect(isAllowedAddress('2606:4700:4700::1111', none)).toBe(true);
  });

  it('refuses every non-public class with an empty policy', () => {
    for (const ip of ['127.0.0.1', '10.0.0.1', '169.254.169.254', '224.0.0.1', '0.0.0.0', '240.0.0.1', '::1', 'fe80::1', '::ffff:127.0.0.1']) {
      expect(isAllowedAddress(ip, none), ip).toBe(false);
    }
  });

  it('allows exactly what the policy lists, and nothing next to it', () => {
    expect(isAllowedAddress('127.0.0.2', policy)).toBe(true);
    expect(isAllowedAddress('::ffff:127.0.0.2', policy)).toBe(true);
    expect(isAllowedAddress('127.0.0.1', policy)).toBe(false);
    expect(isAllowedAddress('127.0.0.3', policy)).toBe(false);
    expect(isAllowedAddress('10.1.200.3', policy)).toBe(true);
    expect(isAllowedAddress('10.2.0.1', policy)).toBe(false);
    expect(isAllowedAddress('fd00:1:2::3', policy)).toBe(true);
    expect(isAllowedAddress('fd00:2::3', policy)).toBe(false);
  });

  it('never opens a metadata endpoint through a broader range, only by naming it', () => {
    expect(isAllowedAddress('169.254.169.254', { allow: ['169.254.0.0/16'] })).toBe(false);
    expect(isAllowedAddress('169.254.1.1', { allow: ['169.254.0.0/16'] })).toBe(true);
    expect(isAllowedAddress('169.254.169.254', { allow: ['169.254.169.254'] })).toBe(true);
  });

  it('refuses strings that are not IPs', () => {
    expect(isAllowedAddress('example.com', none)).toBe(false);
    expect(isAllowedAddress('', none)).toBe(false);
  });
});

describe('parseAddressPolicy', () => {
  it('parses a comma-separated list into canonical CIDRs', () => {
    expect(parseAddressPolicy('127.0.0.2/32, 10.1.0.0/16 ,fd00::1,192.168.1.5')).toEqual({
      allow: ['127.0.0.2/32', '10.1.0.0/16', 'fd00::1/128', '192.168.1.5/32'],
    });
  });

  it('turns IPv4-mapped entries into IPv4 ranges', () => {
    expect(parseAddressPolicy('::ffff:127.0.0.2/128')).toEqual({ allow: ['127.0.0.2/32'] });
  });

  it('accepts an empty list', () => {
    expect(parseAddressPolicy('')).toEqual({ allow: [] });
    expect(parseAddressPolicy(' , ')).toEqual({ allow: [] });
  });

  it.each(['nope', '10.0.0.0/33', '10.0.0.0/', '127.1', '::1/129', '1.2.3.4/8x', '10.0.0.0/-1', '::ffff:1.2.3.4/64'])(
    'throws naming the bad entry %j',
    (bad) => {
      expect(() => parseAddressPolicy(`127.0.0.2/32, ${bad}`)).toThrow(new RegExp(JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    },
  );
});

describe('resolveAllowed', () => {
  const policy: AddressPolicy = { allow: ['127.0.0.2/32'] };
  const never: Resolver = vi.fn(async () => {
    throw new Error('resolver must not be called');
  });

  it('judges IP literals in any spelling without DNS', async () => {
    for (const host of ['127.0.0.1', '2130706433', '0177.0.0.1', '127.1', '0x7f000001', '::1', '[::1]', '::ffff:127.0.0.1', '[::ffff:7f00:1]']) {
      const err = await rejection(resolveAllowed(host, policy, never));
      expect(err.code, host).toBe('ADDRESS_NOT_ALLOWED');
      expect(err.status).toBe(400);
      expect((err.details as { class: string }).class).toBe('loopback');
    }
    expect(await resolveAllowed('127.0.0.2', policy, never)).toEqual({ address: '127.0.0.2', family: 4 });
    expect(await resolveAllowed('::ffff:127.0.0.2', policy, never)).toEqual({ address: '127.0.0.2', family: 4 });
    expect(await resolveAllowed('8.8.8.8', none, never)).toEqual({ address: '8.8.8.8', family: 4 });
    expect(await resolveAllowed('[2606:4700:4700::1111]', none, never)).toEqual({ address: '2606:4700:4700::1111', family: 6 });
    expect(never).not.toHaveBeenCalled();
  });

  it('refuses metadata and private literals with details', async () => {
    const err = await rejection(resolveAllowed('169.254.169.254', none, never));
    expect(err.details).toEqual({ host: '169.254.169.254', address: '169.254.169.254', class: 'metadata' });
    const err2 = await rejection(resolveAllowed('10.0.0.1', none, never));
    expect(err2.details).toEqual({ host: '10.0.0.1', address: '10.0.0.1', class: 'private' });
  });

  it('refuses a hostname that resolves to loopback (injected resolver)', async () => {
    const resolver: Resolver = async (h) => (h === 'evil.test' ? [{ address: '127.0.0.1', family: 4 }] : []);
    const err = await rejection(resolveAllowed('evil.test', policy, resolver));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(err.details).toEqual({ host: 'evil.test', address: '127.0.0.1', class: 'loopback' });
  });

  it('refuses a hostname that resolves to a mapped loopback address', async () => {
    const resolver: Resolver = async () => [{ address: '::ffff:127.0.0.1', family: 6 }];
    const err = await rejection(resolveAllowed('evil.test', policy, resolver));
    expect(err.details).toMatchObject({ address: '127.0.0.1', class: 'loopback' });
  });

  it('refuses localhost through the system resolver', async () => {
    const err = await rejection(resolveAllowed('localhost', policy));
    expect(err.code).toBe('ADDRESS_NOT_ALLOWED');
    expect(['loopback']).toContain((err.details as { class: string }).class);
    const answers = await systemResolver('localhost');
    expect(answers.length).toBeGreaterThan(0);
  });

  it('refuses mixed answers even when one of them is allowed', async () => {
    const resolver: Resolver = async () => [
      { address: '8.8.8.8', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    const err = await rejection(resolveAllowed('mixed.test', none, resolver));
    expect(err.details).toEqual({ host: 'mixed.test', address: '10.0.0.7', class: 'private' });

    const resolver2: Resolver = async () => [
      { address: '127.0.0.2', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    expect((await rejection(resolveAllowed('mixed.test', policy, resolver2))).code).toBe('ADDRESS_NOT_ALLOWED');
  });

  it('returns the first answer when all are allowed, normalized', async () => {
    const resolver: Resolver = async () => [
      { address: '2606:4700:4700:0:0:0:0:1111', family: 6 },
      { address: '1.1.1.1', family: 4 },
    ];
    expect(await resolveAllowed('ok.test', none, resolver)).toEqual({ address: '2606:4700:4700::1111', family: 6 });
  });

  it('passes the normalized hostname to the resolver', async () => {
    const resolver = vi.fn<Resolver>(async () => [{ address: '8.8.8.8', family: 4 }]);
    await resolveAllowed('Example.COM', none, resolver);
    expect(resolver).toHaveBeenCalledWith('example.com');
  });

  it('reports DNS failures as DNS_FAILED', async () => {
    const failing: Resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nx.test'), { code: 'ENOTFOUND' });
    };
    const err = await rejection(resolveAllowed('nx.test', none, failing));
    expect(err.code).toBe('DNS_FAILED');
    expect(err.status).toBe(400);
    expect(err.details).toEqual({ host: 'nx.test', code: 'ENOTFOUND' });

    expect((await rejection(resolveAllowed('empty.test', none, async () => []))).code).toBe('DNS_FAILED');
    const garbage: Resolver = async () => [{ address: 'not-an-ip', family: 4 }];
    expect((await rejection(resolveAllowed('garbage.test', none, garbage))).code).toBe('DNS_FAILED');
    expect((await rejection(resolveAllowed('bad host/x', none, never))).code).toBe('DNS_FAILED');
  });
});

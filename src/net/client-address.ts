import { normalizeIP } from '@fastify/rate-limit';

/**
 * The address a rate limit or a login lockout counts a client by. An IPv6 client is counted by
 * its /64, the block one host or one customer usually holds: counted by the full address, a
 * single VPS could rotate through its 2^64 addresses and get a fresh budget with each.
 * IPv4 (and IPv4-mapped IPv6) addresses count as they are.
 */
export const clientAddress = (ip: string): string => normalizeIP(ip, 64);

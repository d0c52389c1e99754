import { AddressError, normalizeIP, parseIP } from "./ip.ts";

/** A network in CIDR notation, ready to test addresses against. */
export interface Cidr {
  /** The network as written, for messages. */
  text: string;
  bytes: Uint8Array;
  prefix: number;
}

/**
 * Parses `192.0.2.0/24`, `2001:db8::/32` or a bare address (a host network).
 *
 * @throws {AddressError} when the text is not a network
 */
export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.trim().split("/");
  const bytes = parseIP(addr);
  if (!bytes || extra !== undefined) throw new AddressError(`Cannot parse network "${text}"`);
  const max = bytes.length * 8;
  const prefix = len === undefined ? max : Number(len);
  if (!/^\d+$/.test(len ?? String(max)) || prefix > max) {
    throw new AddressError(`Cannot parse network "${text}": prefix must be 0 to ${max}`);
  }
  return { text, bytes, prefix };
}

/** Tells whether the address lies in the network (IPv4-mapped IPv6 counts as IPv4). */
export function cidrContains(net: Cidr, ip: string): boolean {
  const bytes = parseIP(normalizeIP(ip));
  if (!bytes || bytes.length !== net.bytes.length) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (net.bytes[i] & mask)) return false;
  }
  return true;
}

/** A list of networks, as in `trusted_networks`. */
export class CidrList {
  readonly nets: Cidr[];
  /** Parses each entry; throws {@linkcode AddressError} naming the bad one. */
  constructor(entries: readonly string[]) {
    this.nets = entries.map(parseCidr);
  }
  /** Tells whether any network contains the address. */
  contains(ip: string): boolean {
    return this.nets.some((n) => cidrContains(n, ip));
  }
}

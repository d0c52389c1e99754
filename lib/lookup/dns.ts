import { parseIP } from "../net/mod.ts";
import type { Lookup, LookupValue } from "./types.ts";

/** Record types the dns driver asks for. */
export type DnsRecordType = "A" | "AAAA" | "TXT" | "MX";

/**
 * The small resolver interface lookups need, given by the relay's own resolver (lib/dns through
 * lib/policy's `relayResolver`, with `[dns]` and its cache). Answers null for NXDOMAIN or no data; throws
 * {@linkcode LookupDeferError} for timeouts and server failures.
 */
export interface DnsResolver {
  /** The records of one type, as text (`10 mx.example.org` for MX, joined chunks for TXT). */
  resolve(name: string, type: DnsRecordType): Promise<string[] | null>;
}

/**
 * The DNSBL query name for an address: reversed octets (IPv4) or nibbles (IPv6) under the
 * zone (RFC 5782 section 2.1 and 2.4). Null when `ip` is not an address.
 *
 * @example Usage
 * ```ts
 * dnsblName("zen.example", "192.0.2.1"); // "1.2.0.192.zen.example"
 * ```
 */
export function dnsblName(zone: string, ip: string): string | null {
  const bytes = parseIP(ip);
  if (!bytes) return null;
  const z = zone.replace(/^\.+|\.+$/g, "");
  if (bytes.length === 4) return `${[...bytes].reverse().join(".")}.${z}`;
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) {
    nibbles.push((bytes[i] & 0xf).toString(16), (bytes[i] >> 4).toString(16));
  }
  return `${nibbles.join(".")}.${z}`;
}

/**
 * Tells whether `ip` is listed in the DNSBL `zone`: an A record in 127.0.0.0/8, except the
 * 127.255.255.x codes some lists answer for query errors (RFC 5782 section 2.1).
 */
export async function dnsbl(resolver: DnsResolver, zone: string, ip: string): Promise<boolean> {
  const name = dnsblName(zone, ip);
  if (!name) return false;
  const answers = await resolver.resolve(name, "A");
  return (answers ?? []).some((a) => a.startsWith("127.") && !a.startsWith("127.255.255."));
}

/** Options of {@linkcode DnsLookup}. */
export interface DnsLookupOptions {
  /** Table name for messages. */
  name: string;
  /** Record type; default TXT. */
  type?: DnsRecordType;
  /** A zone appended to every key (`key.zone`); with `reverse_ip`, a DNSBL zone. */
  zone?: string;
  /** Reverse an address key as DNSBLs want (`192.0.2.1` -> `1.2.0.192.zone`). */
  reverseIP?: boolean;
  /** The relay's resolver. */
  resolver: DnsResolver;
}

/** A table answered by DNS: the key is a name (or an address with `reverseIP`). */
export class DnsLookup implements Lookup {
  readonly name: string;
  readonly driver = "dns";
  readonly #options: DnsLookupOptions;
  readonly #resolver: DnsResolver;

  /** Keeps the options. */
  constructor(options: DnsLookupOptions) {
    this.name = options.name;
    this.#options = options;
    this.#resolver = options.resolver;
  }

  /** The records joined with newlines, or null. */
  async get(key: string): Promise<LookupValue> {
    const list = await this.members(key);
    return list === null ? null : list.join("\n");
  }

  /** The records, or null. */
  members(key: string): Promise<string[] | null> {
    const { zone, reverseIP, type = "TXT" } = this.#options;
    let name: string | null = key;
    if (reverseIP) name = dnsblName(zone ?? "", key);
    else if (zone) name = `${key}.${zone}`;
    if (name === null || !/^[A-Za-z0-9._-]+\.?$/.test(name) || name.length > 253) {
      return Promise.resolve(null); // not a name: nothing to ask
    }
    return this.#resolver.resolve(name, type);
  }

  /** Nothing to release. */
  close(): void {}
}

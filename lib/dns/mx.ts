import { isIP } from "../net/mod.ts";
import { DnsError } from "./errors.ts";
import type { Resolver } from "./resolver.ts";

/** A mail exchanger with its addresses, in the order to try. */
export interface MxHost {
  /** Host name of the exchanger (the domain itself for an implicit MX). */
  name: string;
  /** MX preference (0 for an implicit MX). */
  preference: number;
  /** True when the domain had no MX and its own address records are used (RFC 5321 5.1). */
  implicit: boolean;
  /** IP addresses, in the order to try. */
  addresses: string[];
  /** The MX RRset was DNSSEC-validated (AD from a trusted resolver; RFC 7672 2.2.1). */
  mxSecure: boolean;
  /** The host's address records were DNSSEC-validated: DANE may apply (RFC 7672 2.2.2). */
  secure: boolean;
}

/** How {@linkcode resolveMxHosts} orders and filters addresses. */
export interface MxOptions {
  /** Which address families to use (default both). */
  family?: "both" | "ipv4" | "ipv6";
  /** Try IPv6 addresses before IPv4 (default false). */
  preferIPv6?: boolean;
  /** Random source for the shuffle among equal preferences (tests pin it). */
  random?: () => number;
}

/**
 * Finds where to deliver mail for a domain (RFC 5321 5.1): MX records by preference,
 * shuffled among equal preferences, each with its A/AAAA addresses; the domain itself when
 * it has no MX (implicit MX). Throws a permanent {@linkcode DnsError} for NXDOMAIN, a null
 * MX (RFC 7505) or when no host has an address; a temporary one for server failures.
 */
export async function resolveMxHosts(
  resolver: Resolver,
  domain: string,
  opts: MxOptions = {},
): Promise<MxHost[]> {
  const d = domain.toLowerCase().replace(/\.$/, "");
  const answer = await resolver.lookup(d, "MX");
  if (answer.rcode === "NXDOMAIN") {
    throw new DnsError("nxdomain", d, "MX", { rcode: "NXDOMAIN", ad: answer.ad });
  }
  const records = answer.records.map((r) => {
    const x = r.data as { preference: number; exchange: string };
    return { preference: x.preference, exchange: x.exchange.toLowerCase().replace(/\.$/, "") };
  });
  // RFC 7505 3: a single MX with an empty exchange (".") means "no mail here".
  if (records.some((r) => r.exchange === "" || r.exchange === ".")) {
    throw new DnsError("nullmx", d, "MX");
  }
  const ordered = records.length === 0
    ? [{ name: d, preference: 0, implicit: true }]
    : byPreference(records, opts.random ?? Math.random).map((r) => ({
      name: r.exchange,
      preference: r.preference,
      implicit: false,
    }));
  const hosts: MxHost[] = [];
  let temporary: DnsError | undefined;
  let permanent: DnsError | undefined;
  for (const h of ordered) {
    try {
      const { addresses, secure } = await secureHostAddresses(resolver, h.name, opts);
      if (addresses.length > 0) hosts.push({ ...h, addresses, mxSecure: answer.ad, secure });
      else permanent ??= new DnsError("noaddress", h.name, "A");
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      if (e.temporary) temporary ??= e;
      else permanent ??= e;
    }
  }
  if (hosts.length > 0) return hosts;
  // No usable host: a temporary failure on any of them means "try later" (RFC 5321 5.1).
  throw temporary ?? permanent ?? new DnsError("noaddress", d, "A");
}

/** Sorts MX records by preference, in random order among equals (RFC 5321 5.1). */
export function byPreference<T extends { preference: number }>(
  records: T[],
  random: () => number = Math.random,
): T[] {
  const keyed = records.map((r) => ({ r, k: random() }));
  keyed.sort((a, b) => a.r.preference - b.r.preference || a.k - b.k);
  return keyed.map((x) => x.r);
}

/** A host's addresses in the order to try: an IP literal as is, else AAAA and A. */
export async function hostAddresses(
  resolver: Resolver,
  host: string,
  opts: MxOptions = {},
): Promise<string[]> {
  return (await secureHostAddresses(resolver, host, opts)).addresses;
}

/**
 * A host's addresses in the order to try, and whether every address answer used was
 * DNSSEC-validated (an IP literal is not: no TLSA base domain).
 */
export async function secureHostAddresses(
  resolver: Resolver,
  host: string,
  opts: MxOptions = {},
): Promise<{ addresses: string[]; secure: boolean }> {
  if (isIP(host)) return { addresses: [host], secure: false };
  const family = opts.family ?? "both";
  const none = { ad: true, addresses: [] as string[] };
  const [v4, v6] = await Promise.all([
    family === "ipv6" ? none : resolver.resolveAddresses(host, "A"),
    family === "ipv4" ? none : resolver.resolveAddresses(host, "AAAA").catch((e) => {
      // A broken AAAA answer must not hide working A records (but makes the host insecure).
      if (family === "both" && e instanceof DnsError && e.temporary) return { ...none, ad: false };
      throw e;
    }),
  ]);
  const addresses = opts.preferIPv6
    ? [...v6.addresses, ...v4.addresses]
    : [...v4.addresses, ...v6.addresses];
  return { addresses, secure: v4.ad && v6.ad };
}

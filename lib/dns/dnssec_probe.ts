import { DnsError } from "./errors.ts";
import type { Resolver } from "./resolver.ts";

/**
 * Checks that the resolver validates DNSSEC, for DANE: a lookup of `probe` (a name the admin
 * knows is signed) must come back with AD from a trusted server, as records or as an
 * authenticated denial. Returns null when it does, else a sentence saying what is wrong.
 *
 * @example Usage
 * ```ts
 * const problem = await checkDnssec(new Resolver(), "example.org");
 * if (problem) console.warn(problem);
 * ```
 */
export async function checkDnssec(resolver: Resolver, probe: string): Promise<string | null> {
  try {
    const r = await resolver.lookup(probe, "SOA");
    if (r.ad) return null;
    return `the resolver did not validate ${probe} (no AD bit from a trusted server): DANE ` +
      `will treat every host as DNSSEC-insecure; use a validating resolver on loopback or ` +
      `list it in [dns] dnssec_trusted`;
  } catch (e) {
    if (!(e instanceof DnsError)) throw e;
    return `the DNSSEC probe lookup of ${probe} failed (${e.message}): DANE deliveries will ` +
      `defer while the resolver cannot answer`;
  }
}

import { DnsError, type Resolver, type TlsaRecord } from "../dns/mod.ts";
import { TlsPolicyError } from "./smtp_connection.ts";
import type { TlsLevel } from "./tls_policy.ts";

/** What DANE (RFC 7672) decided for one host: the level to connect with and the records. */
export interface DanePlan {
  /** The level the connection runs at (`encrypt` when TLSA records apply). */
  tls: TlsLevel;
  /** Usable TLSA records (usages 2 and 3) and their base domain, when DANE applies. */
  dane?: { records: TlsaRecord[]; baseDomain: string };
  /** The usages among the TLSA records found, bit n for usage n (`tls_out_tlsa_usage`). */
  tlsaUsage?: number;
  /** Why DANE does not apply, for logs (for example `dane=insecure`). */
  note?: string;
}

/** One host as the transport found it, with the DNSSEC status of its lookups. */
export interface DaneHost {
  /** The MX host name (the TLSA base domain, RFC 7672 2.2.3). */
  host: string;
  /** The IP address connected to (for messages). */
  ip: string;
  /** The port (TLSA records are looked up at `_port._tcp.host`, RFC 6698 3). */
  port: number;
  /** The host's address records were DNSSEC-validated. */
  secure: boolean;
}

/** RFC 7672 3.1.3: PKIX usages (0, 1) are unusable for SMTP; only DANE-TA(2) and DANE-EE(3). */
export function usableTlsa(r: TlsaRecord): boolean {
  return (r.usage === 2 || r.usage === 3) && (r.selector === 0 || r.selector === 1) &&
    (r.matchingType === 0 || r.matchingType === 1 || r.matchingType === 2);
}

/**
 * Applies RFC 7672 2.2 to one host for the `dane` and `dane-only` levels: TLSA is looked up
 * only when the host's address records are secure; a failed TLSA lookup defers the host
 * (never "no TLSA"); a secure denial or insecure records mean no DANE (`dane`: opportunistic
 * TLS; `dane-only`: defer); records that are all unusable mean TLS without authentication
 * (`dane`) or a deferral (`dane-only`); usable records mean TLS that must match them.
 *
 * @throws {TlsPolicyError} (4.7.5) when the host must be deferred
 */
export async function planDane(
  resolver: Resolver,
  h: DaneHost,
  level: "dane" | "dane-only",
): Promise<DanePlan> {
  const who = `${h.host} [${h.ip}]`;
  const only = level === "dane-only";
  if (!h.secure) {
    if (only) {
      throw new TlsPolicyError(
        `4.7.5 DANE required for ${who}, but its address records are not DNSSEC-signed ` +
          `(dane=insecure)`,
      );
    }
    return { tls: "may", note: "dane=insecure" };
  }
  const name = `_${h.port}._tcp.${h.host}`;
  let answer;
  try {
    answer = await resolver.resolveTlsa(name);
  } catch (e) {
    if (!(e instanceof DnsError)) throw e;
    // RFC 7672 2.2: a failed (or bogus) TLSA lookup is not a denial: defer this host.
    throw new TlsPolicyError(
      `4.7.5 TLSA lookup for ${who} failed, DANE status unknown (dane=tempfail): ${e.message}`,
    );
  }
  if (!answer.ad || answer.records.length === 0) {
    const note = answer.ad ? "dane=none" : "dane=insecure";
    if (only) {
      throw new TlsPolicyError(
        `4.7.5 DANE required for ${who}, but ${name} has ${
          answer.ad ? "no TLSA records" : "no DNSSEC-signed TLSA records"
        } (${note})`,
      );
    }
    return { tls: "may", note };
  }
  const tlsaUsage = answer.records.reduce((bits, r) => bits | (1 << (r.usage & 31)), 0);
  const usable = answer.records.filter(usableTlsa);
  if (usable.length === 0) {
    if (only) {
      throw new TlsPolicyError(
        `4.7.5 DANE required for ${who}, but none of the TLSA records at ${name} is usable ` +
          `(usages 0 and 1 do not apply to SMTP, RFC 7672 3.1.3; tls_out_tlsa_usage=${tlsaUsage})`,
      );
    }
    // RFC 7672 2.2: TLSA records exist, none usable: TLS is mandatory, unauthenticated.
    return { tls: "encrypt", tlsaUsage, note: "dane=unusable" };
  }
  return { tls: "encrypt", dane: { records: usable, baseDomain: h.host }, tlsaUsage };
}

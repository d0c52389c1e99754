import { TLS_LEVEL_NAMES } from "../config/mod.ts";

/**
 * Outbound TLS security levels, with Postfix's `smtp_tls_security_level` meanings:
 * - `none`: never STARTTLS.
 * - `may`: STARTTLS when offered, no checks; a failed handshake is retried in clear text.
 * - `encrypt`: TLS required (defer without it), certificate not checked.
 * - `verify`: TLS required, the chain must verify against the CA file (system bundle by
 *   default) and the certificate must name the host (RFC 6125).
 * - `dane`: DANE (RFC 7672) when the host has usable DNSSEC-signed TLSA records (then TLS
 *   must match them, no fallback); TLSA records that are all unusable (usages 0/1): `encrypt`;
 *   insecure DNS or a secure denial of TLSA: `may`. A failed TLSA lookup defers the host.
 * - `dane-only`: DANE required: a host without usable secure TLSA records is deferred.
 */
export type TlsLevel = "none" | "may" | "encrypt" | "verify" | "dane" | "dane-only";

/** Every level, and the older names (`opportunistic`, `require`, `off`) they replace. */
export const TLS_LEVELS: typeof TLS_LEVEL_NAMES = TLS_LEVEL_NAMES;

/** The level a configured value means (older names kept working). */
export function tlsLevel(value: (typeof TLS_LEVELS)[number]): TlsLevel {
  switch (value) {
    case "opportunistic":
      return "may";
    case "require":
      return "encrypt";
    case "off":
      return "none";
    default:
      return value;
  }
}

/** Whether the level refuses to deliver without TLS. */
export function tlsRequired(level: TlsLevel): boolean {
  return level === "encrypt" || level === "verify" || level === "dane-only";
}

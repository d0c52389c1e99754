import type { CertNames } from "./x509_names.ts";

/** Lower case, no trailing dot: how DNS names compare (A-labels, RFC 6125 6.4.1). */
function canonical(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

function sameIp(a: string, b: string): boolean {
  const norm = (s: string) =>
    s.includes(":")
      ? s.replace(/^\[|\]$/g, "").toLowerCase().split(":").map((g) => g.replace(/^0+(?=.)/, ""))
        .join(":")
      : s;
  return norm(a) === norm(b);
}

/**
 * Whether one presented DNS identifier matches one reference name (RFC 6125 6.4.3 as narrowed
 * by RFC 7672 3.2.3): exact match ignoring case; or a wildcard that is the whole leftmost label
 * (`*.example.org`, never `f*.example.org`) of a name with at least three labels, standing for
 * exactly one label. Names are compared as A-labels; a U-label in a certificate never matches.
 */
export function dnsIdMatches(presented: string, reference: string): boolean {
  const id = canonical(presented);
  const ref = canonical(reference);
  if (!id || !ref || !/^[\x21-\x7e]+$/.test(id)) return false;
  if (id === ref) return !id.includes("*");
  if (!id.startsWith("*.")) return false;
  const rest = id.slice(2);
  if (rest.includes("*") || rest.split(".").length < 2) return false;
  const dot = ref.indexOf(".");
  return dot > 0 && ref.slice(dot + 1) === rest;
}

/**
 * Whether a certificate names one of the reference identifiers. DNS-IDs in subjectAltName are
 * what counts; the subject commonName is looked at only when the certificate has no DNS-ID at
 * all (RFC 6125 6.4.4), with the same rules. An IP address reference (a smarthost given as an
 * address) matches only an iPAddress subjectAltName.
 *
 * @returns the reference name that matched, or null
 */
export function certMatchesNames(names: CertNames, references: string[]): string | null {
  for (const ref of references) {
    if (/^[0-9.]+$|:/.test(ref)) {
      if (names.ipAddresses.some((ip) => sameIp(ip, ref))) return ref;
      continue;
    }
    const ids = names.dnsNames.length > 0 ? names.dnsNames : names.commonNames;
    if (ids.some((id) => dnsIdMatches(id, ref))) return ref;
  }
  return null;
}

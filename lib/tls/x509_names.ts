/** The identifiers of a certificate that name checks look at (RFC 6125 6.4). */
export interface CertNames {
  /** subjectAltName dNSName entries, as written. */
  dnsNames: string[];
  /** subjectAltName iPAddress entries, in text form. */
  ipAddresses: string[];
  /** The subject's commonName values. */
  commonNames: string[];
}

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

/** Reads one DER tag-length-value at `at`. */
function tlv(der: Uint8Array, at: number): Tlv {
  const tag = der[at];
  let len = der[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw new RangeError("Cannot parse certificate: bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i];
    start += n;
  }
  const end = start + len;
  if (tag === undefined || end > der.length) {
    throw new RangeError("Cannot parse certificate: truncated DER");
  }
  return { tag, start, end };
}

/** The children of a constructed value. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const t = tlv(der, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

const OID_CN = "550403"; // 2.5.4.3
const OID_SAN = "551d11"; // 2.5.29.17

function hex(der: Uint8Array, t: Tlv): string {
  return Array.from(der.subarray(t.start, t.end), (b) => b.toString(16).padStart(2, "0")).join("");
}

function text(der: Uint8Array, t: Tlv): string {
  return new TextDecoder().decode(der.subarray(t.start, t.end));
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  const groups: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  return groups.join(":");
}

/**
 * Reads the subject commonName and the subjectAltName DNS and IP entries of a DER certificate
 * (our own reader: the name checks must not depend on a library's looser rules).
 *
 * @throws {RangeError} when the DER cannot be parsed
 */
export function certNames(der: Uint8Array): CertNames {
  const out: CertNames = { dnsNames: [], ipAddresses: [], commonNames: [] };
  const cert = tlv(der, 0);
  const tbs = children(der, cert)[0];
  const fields = children(der, tbs);
  // [0] version is optional: serial, signature, issuer, validity, subject follow it.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[base + 4];
  if (subject?.tag === 0x30) {
    for (const rdn of children(der, subject)) {
      for (const atv of children(der, rdn)) {
        const [oid, value] = children(der, atv);
        if (oid && value && hex(der, oid) === OID_CN) out.commonNames.push(text(der, value));
      }
    }
  }
  const exts = fields.find((f) => f.tag === 0xa3);
  if (!exts) return out;
  for (const ext of children(der, children(der, exts)[0])) {
    const parts = children(der, ext);
    if (hex(der, parts[0]) !== OID_SAN) continue;
    const value = parts[parts.length - 1]; // OCTET STRING around GeneralNames
    for (const gn of children(der, children(der, value)[0])) {
      if (gn.tag === 0x82) out.dnsNames.push(text(der, gn));
      else if (gn.tag === 0x87) out.ipAddresses.push(ipText(der.subarray(gn.start, gn.end)));
    }
  }
  return out;
}

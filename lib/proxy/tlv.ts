import { crc32c } from "./crc32c.ts";
import { ProxyHeaderError } from "./errors.ts";
import type { ProxyInfo, ProxySsl, ProxyTlv } from "./types.ts";

/** Registered TLV types (spec 2.2). */
export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

/** Sub-TLV types inside PP2_TYPE_SSL (spec 2.2.6). */
export const PP2_SUBTYPE_SSL = {
  VERSION: 0x21,
  CN: 0x22,
  CIPHER: 0x23,
  SIG_ALG: 0x24,
  KEY_ALG: 0x25,
} as const;

/** PP2_CLIENT_* bits of the SSL TLV's client field (spec 2.2.6). */
export const PP2_CLIENT = { SSL: 0x01, CERT_CONN: 0x02, CERT_SESS: 0x04 } as const;

/** Spec 2.2.5: the unique ID is at most 128 bytes. */
const UNIQUE_ID_MAX = 128;
/** A host name never exceeds 255 bytes (haproxy applies the same limit). */
const AUTHORITY_MAX = 255;
/** Types that may appear once: a second copy could make logs and policy disagree. */
const SINGLE = new Set<number>([0x01, 0x02, 0x03, 0x05, 0x20, 0x30]);

/** A TLV plus where its value starts in the buffer it came from. */
interface Located extends ProxyTlv {
  offset: number;
}

/**
 * Splits `bytes[start..end)` into TLVs (spec 2.2: type, 16-bit big-endian length, value).
 * Every TLV must end inside the range.
 */
export function splitTlvs(bytes: Uint8Array, start: number, end: number, what = "TLV"): Located[] {
  const out: Located[] = [];
  let at = start;
  while (at < end) {
    if (at + 3 > end) throw new ProxyHeaderError(`truncated ${what} header at offset ${at}`);
    const type = bytes[at];
    const length = (bytes[at + 1] << 8) | bytes[at + 2];
    if (at + 3 + length > end) {
      throw new ProxyHeaderError(`${what} ${hex(type)} length ${length} overruns the header`);
    }
    out.push({ type, value: bytes.slice(at + 3, at + 3 + length), offset: at + 3 });
    at += 3 + length;
  }
  return out;
}

/**
 * Parses the TLVs of a complete v2 header into `info`: typed fields for the registered
 * types, every TLV in `info.tlvs`. `header` is exactly the header's bytes.
 */
export function readTlvs(header: Uint8Array, start: number, info: ProxyInfo): void {
  const tlvs = splitTlvs(header, start, header.length);
  const seen = new Set<number>();
  for (const tlv of tlvs) {
    if (SINGLE.has(tlv.type) && seen.has(tlv.type)) {
      throw new ProxyHeaderError(`TLV ${hex(tlv.type)} appears twice`);
    }
    seen.add(tlv.type);
    readTlv(header, tlv, info);
    info.tlvs.push({ type: tlv.type, value: tlv.value });
  }
}

function readTlv(header: Uint8Array, tlv: Located, info: ProxyInfo): void {
  switch (tlv.type) {
    case PP2_TYPE.ALPN: // 2.2.1: a byte sequence, normally the TLS ALPN protocol name
      info.alpn = new TextDecoder().decode(tlv.value);
      break;
    case PP2_TYPE.AUTHORITY: // 2.2.2: UTF-8 host name (SNI)
      if (tlv.value.length > AUTHORITY_MAX) {
        throw new ProxyHeaderError(`AUTHORITY TLV exceeds ${AUTHORITY_MAX} bytes`);
      }
      info.authority = utf8(tlv);
      break;
    case PP2_TYPE.CRC32C: // 2.2.3
      verifyCrc32c(header, tlv);
      info.crc32cVerified = true;
      break;
    case PP2_TYPE.UNIQUE_ID: // 2.2.5
      if (tlv.value.length > UNIQUE_ID_MAX) {
        throw new ProxyHeaderError(`UNIQUE_ID TLV exceeds ${UNIQUE_ID_MAX} bytes`);
      }
      info.uniqueId = tlv.value;
      break;
    case PP2_TYPE.SSL: // 2.2.6
      info.ssl = readSsl(tlv.value);
      break;
    case PP2_TYPE.NETNS: // 2.2.7: US-ASCII namespace name
      info.netns = ascii(tlv);
      break;
      // NOOP (2.2.4) and unknown types are only kept in info.tlvs.
  }
}

/** Spec 2.2.3: CRC32C of the whole header with the 4 checksum bytes zeroed, big-endian. */
function verifyCrc32c(header: Uint8Array, tlv: Located): void {
  if (tlv.value.length !== 4) throw new ProxyHeaderError("CRC32C TLV must be 4 bytes");
  const sent = new DataView(tlv.value.buffer, tlv.value.byteOffset, 4).getUint32(0);
  const copy = header.slice();
  copy.fill(0, tlv.offset, tlv.offset + 4);
  if (crc32c(copy) !== sent) throw new ProxyHeaderError("CRC32C mismatch");
}

/** Spec 2.2.6: client bit field (1 byte), verify (4 bytes), then sub-TLVs. */
function readSsl(value: Uint8Array): ProxySsl {
  if (value.length < 5) throw new ProxyHeaderError("SSL TLV is shorter than 5 bytes");
  const client = value[0];
  const verify = new DataView(value.buffer, value.byteOffset, 5).getUint32(1);
  const ssl: ProxySsl = {
    client,
    verify,
    clientCertConnection: (client & PP2_CLIENT.CERT_CONN) !== 0,
    clientCertSession: (client & PP2_CLIENT.CERT_SESS) !== 0,
    verified: verify === 0 && (client & (PP2_CLIENT.CERT_CONN | PP2_CLIENT.CERT_SESS)) !== 0,
  };
  const seen = new Set<number>();
  for (const sub of splitTlvs(value, 5, value.length, "SSL sub-TLV")) {
    if (seen.has(sub.type)) {
      throw new ProxyHeaderError(`SSL sub-TLV ${hex(sub.type)} appears twice`);
    }
    seen.add(sub.type);
    if (sub.type === PP2_SUBTYPE_SSL.VERSION) ssl.version = ascii(sub);
    else if (sub.type === PP2_SUBTYPE_SSL.CN) ssl.cn = utf8(sub);
    else if (sub.type === PP2_SUBTYPE_SSL.CIPHER) ssl.cipher = ascii(sub);
    else if (sub.type === PP2_SUBTYPE_SSL.SIG_ALG) ssl.sigAlg = ascii(sub);
    else if (sub.type === PP2_SUBTYPE_SSL.KEY_ALG) ssl.keyAlg = ascii(sub);
  }
  return ssl;
}

function utf8(tlv: ProxyTlv): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(tlv.value);
  } catch {
    throw new ProxyHeaderError(`TLV ${hex(tlv.type)} is not valid UTF-8`);
  }
}

function ascii(tlv: ProxyTlv): string {
  if (!tlv.value.every((b) => b >= 0x20 && b < 0x7f)) {
    throw new ProxyHeaderError(`TLV ${hex(tlv.type)} is not printable US-ASCII`);
  }
  return new TextDecoder().decode(tlv.value);
}

/** Formats a type byte as `0x2a`. */
export function hex(n: number): string {
  return "0x" + n.toString(16).padStart(2, "0");
}

/** Builders for hand-made PROXY protocol headers (v1 text, v2 binary) used by the tests. */
import { crc32c, V2_SIGNATURE } from "../../lib/proxy/mod.ts";
import { parseIP } from "../../lib/net/mod.ts";

const enc = new TextEncoder();

/** A v1 line: `PROXY TCP4 src dst sport dport\r\n`. */
export function v1Header(
  family: "TCP4" | "TCP6",
  source: [string, number],
  destination: [string, number],
): Uint8Array {
  return enc.encode(
    `PROXY ${family} ${source[0]} ${destination[0]} ${source[1]} ${destination[1]}\r\n`,
  );
}

/** One TLV record: type, 16-bit length, value. */
export function tlv(type: number, value: Uint8Array | string): Uint8Array {
  const v = typeof value === "string" ? enc.encode(value) : value;
  return concat(new Uint8Array([type, v.length >> 8, v.length & 0xff]), v);
}

/** A PP2_TYPE_SSL value: client bits, verify, sub-TLVs. */
export function sslTlv(client: number, verify: number, subs: Uint8Array[] = []): Uint8Array {
  const head = new Uint8Array(5);
  head[0] = client;
  new DataView(head.buffer).setUint32(1, verify);
  return tlv(0x20, concat(head, ...subs));
}

/** Options for {@linkcode v2Header}. */
export interface V2Options {
  /** Version/command byte; default 0x21 (v2 PROXY). */
  verCmd?: number;
  /** Family/protocol byte; default from the addresses (0x11 or 0x21), else 0x00. */
  fam?: number;
  source?: [string, number];
  destination?: [string, number];
  /** Raw address block instead of source/destination. */
  addressBlock?: Uint8Array;
  /** Encoded TLVs appended after the address block. */
  tlvs?: Uint8Array[];
  /** Append a CRC32C TLV and fill it in (true) or fill it with a wrong value ("bad"). */
  crc?: boolean | "bad";
  /** Override the length field. */
  length?: number;
}

/** A v2 binary header. */
export function v2Header(o: V2Options = {}): Uint8Array {
  let block = o.addressBlock ?? new Uint8Array(0);
  let fam = o.fam ?? 0x00;
  if (o.source && o.destination) {
    const s = parseIP(o.source[0])!, d = parseIP(o.destination[0])!;
    const ports = new Uint8Array(4);
    new DataView(ports.buffer).setUint16(0, o.source[1]);
    new DataView(ports.buffer).setUint16(2, o.destination[1]);
    block = concat(s, d, ports);
    fam = o.fam ?? (s.length === 4 ? 0x11 : 0x21);
  }
  const tlvs = [...(o.tlvs ?? [])];
  if (o.crc) tlvs.push(tlv(0x03, new Uint8Array(4)));
  const body = concat(block, ...tlvs);
  const fixed = new Uint8Array(4);
  fixed[0] = o.verCmd ?? 0x21;
  fixed[1] = fam;
  new DataView(fixed.buffer).setUint16(2, o.length ?? body.length);
  const header = concat(V2_SIGNATURE, fixed, body);
  if (o.crc) {
    const sum = crc32c(header) ^ (o.crc === "bad" ? 1 : 0);
    new DataView(header.buffer).setUint32(header.length - 4, sum >>> 0);
  }
  return header;
}

/** A UNIX address block: two 108-byte NUL-padded paths. */
export function unixBlock(source: string, destination: string): Uint8Array {
  const block = new Uint8Array(216);
  block.set(enc.encode(source), 0);
  block.set(enc.encode(destination), 108);
  return block;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

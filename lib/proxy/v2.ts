import { formatIP, normalizeIP } from "../net/mod.ts";
import { ProxyHeaderError } from "./errors.ts";
import { hex, readTlvs } from "./tlv.ts";
import type { ProxyAddress, ProxyInfo, ProxyParse } from "./types.ts";

/** The 12-byte v2 signature (spec 2.2). */
export const V2_SIGNATURE: Uint8Array = new TextEncoder().encode("\r\n\r\n\0\r\nQUIT\n");
/** Signature, version/command, family/protocol, 16-bit length. */
const FIXED = 16;
/** Spec 2.2: AF_UNIX addresses are 108 bytes each. */
const UNIX_PATH = 108;

/** Spec 2.2, 14th byte: the valid family/protocol combinations and their address sizes. */
const FAMILIES: Record<number, { family: ProxyInfo["family"]; size: number }> = {
  0x00: { family: "UNKNOWN", size: 0 },
  0x11: { family: "TCP4", size: 12 },
  0x12: { family: "UDP4", size: 12 },
  0x21: { family: "TCP6", size: 36 },
  0x22: { family: "UDP6", size: 36 },
  0x31: { family: "UNIX", size: 2 * UNIX_PATH },
  0x32: { family: "UNIX", size: 2 * UNIX_PATH },
};

/**
 * Parses a v2 header whose first byte is CR. Each fixed byte is checked as soon as it
 * arrives; the whole header (16 + length bytes) must be there before addresses are read.
 */
export function parseV2(bytes: Uint8Array): ProxyParse {
  const n = Math.min(bytes.length, V2_SIGNATURE.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== V2_SIGNATURE[i]) throw new ProxyHeaderError("wrong signature");
  }
  if (bytes.length > 12) checkVersionCommand(bytes[12]);
  if (bytes.length > 13) familyOf(bytes[13]);
  if (bytes.length < FIXED) return { status: "incomplete" };
  const length = (bytes[14] << 8) | bytes[15];
  const { family, size } = familyOf(bytes[13]);
  if (length < size) {
    throw new ProxyHeaderError(`v2 length ${length} is too short for ${family} addresses`);
  }
  if (bytes.length < FIXED + length) return { status: "incomplete" };
  const header = bytes.subarray(0, FIXED + length);
  return { status: "ok", info: readHeader(header, family, size), length: header.length };
}

/** Spec 2.2, 13th byte: version 2 in the high nibble, LOCAL (0) or PROXY (1) in the low. */
function checkVersionCommand(byte: number): void {
  if (byte >> 4 !== 2) throw new ProxyHeaderError(`unsupported v2 version ${byte >> 4}`);
  if ((byte & 0x0f) > 1) throw new ProxyHeaderError(`unknown v2 command ${byte & 0x0f}`);
}

function familyOf(byte: number): { family: ProxyInfo["family"]; size: number } {
  const entry = FAMILIES[byte];
  if (!entry) throw new ProxyHeaderError(`unknown v2 family and protocol ${hex(byte)}`);
  return entry;
}

function readHeader(header: Uint8Array, family: ProxyInfo["family"], size: number): ProxyInfo {
  const command = (header[12] & 0x0f) === 1 ? "PROXY" : "LOCAL";
  const info: ProxyInfo = { version: 2, command, family, tlvs: [] };
  // LOCAL: the receiver uses the real endpoints and ignores any address block.
  if (command === "PROXY" && size > 0) {
    const [source, destination] = readAddresses(header.subarray(FIXED, FIXED + size), family);
    info.source = source;
    info.destination = destination;
  }
  readTlvs(header, FIXED + size, info);
  return info;
}

/** Spec 2.2: source address, destination address, then source and destination ports. */
function readAddresses(block: Uint8Array, family: ProxyInfo["family"]): ProxyAddress[] {
  if (family === "UNIX") {
    return [unixPath(block.subarray(0, UNIX_PATH)), unixPath(block.subarray(UNIX_PATH))];
  }
  const width = family === "TCP4" || family === "UDP4" ? 4 : 16;
  const view = new DataView(block.buffer, block.byteOffset, block.length);
  const address = (at: number) => normalizeIP(formatIP(block.slice(at, at + width)));
  return [
    { address: address(0), port: view.getUint16(2 * width) },
    { address: address(width), port: view.getUint16(2 * width + 2) },
  ];
}

/** A sun_path: bytes up to the first NUL; an abstract socket (leading NUL) as `@name`. */
function unixPath(bytes: Uint8Array): ProxyAddress {
  const abstract = bytes[0] === 0 && bytes.some((b) => b !== 0);
  const rest = abstract ? bytes.subarray(1) : bytes;
  const nul = rest.indexOf(0);
  const path = new TextDecoder().decode(nul < 0 ? rest : rest.subarray(0, nul));
  return { address: abstract ? "@" + path : path, port: 0 };
}

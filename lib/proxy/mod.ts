/**
 * PROXY protocol v1 and v2 headers (haproxy doc/proxy-protocol.txt), parsed by a pure
 * function over the bytes received so far.
 *
 * @module
 */
import { ProxyHeaderError } from "./errors.ts";
import { parseV1 } from "./v1.ts";
import { parseV2 } from "./v2.ts";
import type { ProxyParse } from "./types.ts";

export { ProxyHeaderError } from "./errors.ts";
export { crc32c } from "./crc32c.ts";
export { PP2_CLIENT, PP2_SUBTYPE_SSL, PP2_TYPE } from "./tlv.ts";
export { V1_MAX_LENGTH } from "./v1.ts";
export { V2_SIGNATURE } from "./v2.ts";
export type { ProxyAddress, ProxyInfo, ProxyParse, ProxySsl, ProxyTlv } from "./types.ts";

/**
 * Parses a PROXY header at the start of `bytes` (which may hold pipelined data after it).
 *
 * Returns `incomplete` while more bytes are needed, or `ok` with the header's length.
 * Throws {@linkcode ProxyHeaderError} as soon as the bytes cannot start a valid header:
 * wrong signature, v1 line over 107 bytes, unknown family, bad address or port, bad v2
 * version/command, short length, truncated TLV, CRC32C mismatch.
 *
 * @param bytes the bytes received on the connection so far
 * @returns the parse state
 * @throws {ProxyHeaderError} when the header is malformed
 *
 * @example A v1 header followed by SMTP
 * ```ts
 * const bytes = new TextEncoder().encode("PROXY TCP4 192.0.2.1 198.51.100.2 4000 25\r\nEHLO x\r\n");
 * const r = parseProxyHeader(bytes);
 * if (r.status === "ok") console.log(r.info.source?.address, bytes.subarray(r.length));
 * ```
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (bytes.length === 0) return { status: "incomplete" };
  // Spec 2.2: "PROXY" starts v1, the CR of the binary signature starts v2.
  if (bytes[0] === 0x50) return parseV1(bytes);
  if (bytes[0] === 0x0d) return parseV2(bytes);
  throw new ProxyHeaderError("wrong signature");
}

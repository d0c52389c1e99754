import { normalizeIP, parseIPv6 } from "../net/mod.ts";
import { ProxyHeaderError } from "./errors.ts";
import type { ProxyInfo, ProxyParse } from "./types.ts";

/** "PROXY " opens every v1 header (spec 2.1). */
export const V1_PREFIX: Uint8Array = new TextEncoder().encode("PROXY ");
/** Longest v1 line including CRLF (spec 2.1: "PROXY UNKNOWN" with two full IPv6 and ports). */
export const V1_MAX_LENGTH = 107;

const CR = 0x0d;
const LF = 0x0a;
const FAMILIES = ["TCP4", "TCP6", "UNKNOWN"] as const;
type V1Family = typeof FAMILIES[number];
/** Longest field text per family: an address (IPv6 may end in dotted IPv4) or a port. */
const MAX_FIELD = { TCP4: 15, TCP6: 45 } as const;
const CHARSET = { TCP4: /^[0-9. ]*$/, TCP6: /^[0-9a-fA-F:. ]*$/ } as const;

/**
 * Parses a v1 header whose first bytes match (a prefix of) "PROXY ".
 * Spec 2.1: one line, fields separated by exactly one space, CRLF within 107 bytes.
 */
export function parseV1(bytes: Uint8Array): ProxyParse {
  checkPrefix(bytes);
  if (bytes.length <= V1_PREFIX.length) return { status: "incomplete" };
  const end = findLineEnd(bytes);
  if (end < 0) {
    const seen = latin1(bytes.subarray(V1_PREFIX.length, Math.min(bytes.length, V1_MAX_LENGTH)));
    checkPartial(seen.endsWith("\r") ? seen.slice(0, -1) : seen);
    if (bytes.length >= V1_MAX_LENGTH) throw new ProxyHeaderError("v1 line exceeds 107 bytes");
    return { status: "incomplete" };
  }
  const info = parseLine(latin1(bytes.subarray(V1_PREFIX.length, end - 2)));
  return { status: "ok", info, length: end };
}

function checkPrefix(bytes: Uint8Array): void {
  const n = Math.min(bytes.length, V1_PREFIX.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== V1_PREFIX[i]) throw new ProxyHeaderError("wrong signature");
  }
}

/**
 * Returns the offset just past CRLF, or -1 when no CRLF is there yet. A lone CR or LF is
 * malformed (spec 2.1: "must not tolerate a single CR or LF character to end the line").
 */
function findLineEnd(bytes: Uint8Array): number {
  const limit = Math.min(bytes.length, V1_MAX_LENGTH);
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (bytes[i] === LF) throw new ProxyHeaderError("v1 line has a bare LF");
    if (bytes[i] !== CR) continue;
    if (i + 1 >= bytes.length) return -1;
    if (bytes[i + 1] !== LF) throw new ProxyHeaderError("v1 line has a bare CR");
    if (i + 2 > V1_MAX_LENGTH) throw new ProxyHeaderError("v1 line exceeds 107 bytes");
    return i + 2;
  }
  return -1;
}

/** Rejects a line as soon as the bytes seen so far cannot start a valid one. */
function checkPartial(text: string): void {
  const fields = text.split(" ");
  if (fields.length === 1) {
    if (!FAMILIES.some((f) => f.startsWith(text))) throw badFamily(text);
    return;
  }
  const family = checkFamily(fields[0]);
  if (family === "UNKNOWN") return;
  checkFieldShape(family, fields, false);
}

function parseLine(text: string): ProxyInfo {
  const fields = text.split(" ");
  const family = checkFamily(fields[0]);
  const info: ProxyInfo = { version: 1, command: "PROXY", family, tlvs: [] };
  // Spec 2.1: for UNKNOWN the receiver must ignore anything before the CRLF.
  if (family === "UNKNOWN") return info;
  checkFieldShape(family, fields, true);
  info.source = { address: parseAddress(family, fields[1]), port: parsePort(fields[3]) };
  info.destination = { address: parseAddress(family, fields[2]), port: parsePort(fields[4]) };
  return info;
}

function checkFamily(text: string): V1Family {
  const family = FAMILIES.find((f) => f === text);
  if (!family) throw badFamily(text);
  return family;
}

/** Field count, empty fields (double spaces), character set and length; `complete` at CRLF. */
function checkFieldShape(family: "TCP4" | "TCP6", fields: string[], complete: boolean): void {
  for (let i = 1; i < fields.length; i++) {
    const field = fields[i];
    const last = !complete && i === fields.length - 1;
    if (field === "" && !last) {
      throw new ProxyHeaderError("v1 fields must be separated by one space");
    }
    if (!CHARSET[family].test(field)) {
      throw new ProxyHeaderError(`v1 ${family} field ${quote(field)} has invalid characters`);
    }
    if (field.length > (i <= 2 ? MAX_FIELD[family] : 5)) {
      throw new ProxyHeaderError(`v1 field ${quote(field)} is too long`);
    }
  }
  if (fields.length > 5 || (complete && fields.length < 5)) {
    throw new ProxyHeaderError(`v1 ${family} line needs 4 fields after the family`);
  }
}

/** Spec 2.1: canonical IPv4 without leading zeroes, or IPv6 of exactly 128 bits. */
function parseAddress(family: "TCP4" | "TCP6", text: string): string {
  if (family === "TCP4") {
    const parts = text.split(".");
    const ok = parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && +p <= 255);
    if (!ok) throw new ProxyHeaderError(`v1 address ${quote(text)} is not IPv4`);
    return text;
  }
  if (!parseIPv6(text)) throw new ProxyHeaderError(`v1 address ${quote(text)} is not IPv6`);
  return normalizeIP(text);
}

/** Spec 2.1: decimal 0..65535 without leading zeroes. */
function parsePort(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || +text > 65535) {
    throw new ProxyHeaderError(`v1 port ${quote(text)} is not 0 to 65535`);
  }
  return +text;
}

function badFamily(text: string): ProxyHeaderError {
  return new ProxyHeaderError(`unknown v1 family ${quote(text)}`);
}

/** Quotes untrusted text for an error message: short, printable ASCII only. */
export function quote(text: string): string {
  const short = text.length > 40 ? text.slice(0, 40) + "..." : text;
  return JSON.stringify(short.replace(/[^\x20-\x7e]/g, "?"));
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

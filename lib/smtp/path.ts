import { SmtpSyntaxError } from "./errors.ts";
import { isIP, parseIPv4, parseIPv6 } from "../net/mod.ts";

/** A parsed MAIL FROM or RCPT TO argument. */
export interface PathArg {
  /** The mailbox without brackets and source route; empty for `<>`. */
  address: string;
  /** ESMTP parameters, keywords upper case; value null for a bare keyword. */
  params: Map<string, string | null>;
}

// RFC 5321 4.1.2 atext, plus UTF-8 (RFC 6531 3.3) when allowed.
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
const ATOM_UTF8 = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\u{10FFFF}-]";
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
const LABEL_UTF8 = "[A-Za-z0-9\\u0080-\\u{10FFFF}](?:[A-Za-z0-9\\u0080-\\u{10FFFF}-]*" +
  "[A-Za-z0-9\\u0080-\\u{10FFFF}])?";

function dotString(utf8: boolean): RegExp {
  const a = utf8 ? ATOM_UTF8 : ATOM;
  return new RegExp(`^${a}+(?:\\.${a}+)*$`, "u");
}
const DOT_STRING = dotString(false);
const DOT_STRING_UTF8 = dotString(true);
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
const QUOTED_UTF8 = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
const DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const DOMAIN_UTF8 = new RegExp(`^${LABEL_UTF8}(?:\\.${LABEL_UTF8})*$`, "u");

/** Tells whether a domain is an address literal `[192.0.2.1]` or `[IPv6:2001:db8::1]`. */
export function isAddressLiteral(domain: string): boolean {
  if (!domain.startsWith("[") || !domain.endsWith("]")) return false;
  const inner = domain.slice(1, -1);
  if (/^IPv6:/i.test(inner)) return parseIPv6(inner.slice(5)) !== null;
  return parseIPv4(inner) !== null;
}

/**
 * Checks a mailbox (RFC 5321 4.1.2, lengths 4.5.3.1); `utf8` allows RFC 6531 addresses.
 * Returns a reason when invalid, or null.
 */
export function mailboxProblem(mailbox: string, utf8: boolean): string | null {
  const at = mailbox.lastIndexOf("@");
  if (at <= 0) return "address must be local-part@domain";
  const local = mailbox.slice(0, at);
  const domain = mailbox.slice(at + 1);
  const enc = new TextEncoder();
  if (enc.encode(local).length > 64) return "local part longer than 64 octets";
  if (enc.encode(domain).length > 255) return "domain longer than 255 octets";
  const localOk = (utf8 ? DOT_STRING_UTF8 : DOT_STRING).test(local) ||
    (utf8 ? QUOTED_UTF8 : QUOTED).test(local);
  if (!localOk) return "bad local part";
  if (!isAddressLiteral(domain) && !(utf8 ? DOMAIN_UTF8 : DOMAIN).test(domain)) {
    return "bad domain";
  }
  return null;
}

/** Tells whether text has bytes outside ASCII. */
export function isNonAscii(text: string): boolean {
  return /[^\p{ASCII}]/u.test(text);
}

/**
 * Parses `FROM:<path> params` or `TO:<path> params` (RFC 5321 4.1.1.2, 4.1.1.3).
 * Accepts a space after the colon, as most servers do. Source routes are dropped
 * (RFC 5321 4.1.1.3 and C). `<postmaster>` without a domain is allowed for RCPT.
 *
 * @throws {SmtpSyntaxError} with 501 and the enhanced code that fits
 */
export function parsePathArg(
  arg: string,
  keyword: "FROM" | "TO",
  opts: { utf8: boolean },
): PathArg {
  const m = new RegExp(`^${keyword}:\\s*(<.*?>|[^<>\\s]+)(?:\\s+(.*))?$`, "is").exec(arg);
  if (!m) {
    throw new SmtpSyntaxError(
      501,
      "5.5.4",
      `Syntax: ${keyword === "FROM" ? "MAIL FROM" : "RCPT TO"}:<address>`,
    );
  }
  let path = m[1];
  if (!path.startsWith("<")) path = `<${path}>`; // bare address: tolerated, as Postfix does
  let inner = path.slice(1, -1);
  const route = /^@[^:]+:/.exec(inner);
  if (route) inner = inner.slice(route[0].length);
  const params = parseParams(m[2] ?? "");
  if (inner === "") {
    if (keyword === "TO") throw new SmtpSyntaxError(501, "5.1.3", "Empty recipient address");
    return { address: "", params };
  }
  if (keyword === "TO" && inner.toLowerCase() === "postmaster") return { address: inner, params };
  const utf8 = opts.utf8 || params.has("SMTPUTF8");
  if (!opts.utf8 && isNonAscii(inner) && !params.has("SMTPUTF8")) {
    throw new SmtpSyntaxError(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
  }
  const problem = mailboxProblem(inner, utf8);
  if (problem) {
    throw new SmtpSyntaxError(
      501,
      keyword === "FROM" ? "5.1.7" : "5.1.3",
      `Bad ${keyword === "FROM" ? "sender" : "recipient"} address syntax: ${problem}`,
    );
  }
  return { address: inner, params };
}

/** Parses `KEY=value KEY2` ESMTP parameters (RFC 5321 4.1.2 esmtp-param). */
export function parseParams(text: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\x21-\x3c\x3e-\x7e\u0080-\u{10FFFF}]*))?$/u.exec(
      word,
    );
    if (!m) throw new SmtpSyntaxError(501, "5.5.4", `Bad parameter syntax: ${word.slice(0, 40)}`);
    const key = m[1].toUpperCase();
    if (params.has(key)) throw new SmtpSyntaxError(501, "5.5.4", `Duplicate parameter ${key}`);
    params.set(key, m[2] ?? null);
  }
  return params;
}

/** Splits an address into local part and lower-cased domain. */
export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf("@");
  if (at < 0) return { local: address, domain: "" };
  return { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
}

/** Tells whether a HELO/EHLO argument is a domain or an address literal (RFC 5321 4.1.1.1). */
export function isValidHelo(name: string): boolean {
  if (name.startsWith("[")) return isAddressLiteral(name);
  return DOMAIN.test(name.replace(/\.$/, "")) || isIP(name);
}

import type { TlsSessionInfo } from "../tls/mod.ts";

/** Formats a date as RFC 5322 3.3 date-time. */
export function rfc5322Date(d: Date = new Date()): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ];
  const p = (n: number) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const tz = `${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  return `${days[d.getDay()]}, ${d.getDate()} ${months[d.getMonth()]} ${d.getFullYear()} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${tz}`;
}

/**
 * The protocol name for Received's `with` clause (RFC 3848, RFC 6531 3.7.3):
 * SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP, UTF8SMTPS ...
 */
export function protocolName(esmtp: boolean, tls: boolean, auth: boolean, utf8: boolean): string {
  if (!esmtp) return "SMTP";
  return (utf8 ? "UTF8SMTP" : "ESMTP") + (tls ? "S" : "") + (auth ? "A" : "");
}

/** What a Received header needs to know. */
export interface ReceivedFacts {
  helo: string;
  hostname?: string;
  ip: string;
  by: string;
  protocol: string;
  id: string;
  tls?: TlsSessionInfo;
  /** The single recipient, named only when there is exactly one (privacy). */
  for?: string;
  date?: Date;
}

const clean = (s: string) => s.replace(/[^\x21-\x7e\u0080-\uffff]/g, "?");

/** Builds the trace header (RFC 5321 4.4), folded, ending in CRLF. */
export function receivedHeader(f: ReceivedFacts): string {
  const ipText = f.ip.includes(":") ? `IPv6:${f.ip}` : f.ip;
  const from = `from ${clean(f.helo) || "unknown"} (${
    f.hostname ? clean(f.hostname) + " " : ""
  }[${ipText}])`;
  const lines = [`Received: ${from}`, `\tby ${f.by} (edge relay) with ${f.protocol} id ${f.id}`];
  if (f.tls) {
    lines.push(
      `\t(version=${f.tls.version} cipher=${f.tls.cipher}${
        f.tls.bits ? ` bits=${f.tls.bits}` : ""
      })`,
    );
  }
  const date = rfc5322Date(f.date);
  lines.push(f.for ? `\tfor <${clean(f.for)}>; ${date}` : `\t; ${date}`);
  return lines.join("\r\n") + "\r\n";
}

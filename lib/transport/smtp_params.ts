import { encodeXtext } from "../smtp/mod.ts";
import type { Envelope, Recipient } from "../envelope/mod.ts";
import type { OutboundMessage } from "./types.ts";

/** EHLO keywords (upper case) with their parameters. */
export type Extensions = Map<string, string>;

/**
 * Says why the peer cannot take the message, or null when it can: too big for its SIZE
 * (RFC 1870 6.1), SMTPUTF8 needed but not offered (RFC 6531 3.4), 8-bit data without
 * 8BITMIME (RFC 6152 3: we do not convert, so the message is returned).
 */
export async function cannotCarry(
  message: OutboundMessage,
  ext: Extensions,
  host: string,
): Promise<string | null> {
  const env = message.envelope;
  const max = Number(ext.get("SIZE") ?? "0");
  if (ext.has("SIZE") && max > 0 && env.size > max) {
    return `Message of ${env.size} bytes exceeds the ${max} bytes ${host} accepts`;
  }
  if (env.smtputf8 && !ext.has("SMTPUTF8")) {
    return `${host} does not support SMTPUTF8, which this message needs (RFC 6531 3.4)`;
  }
  if (env.bodyType !== "7BIT" && !ext.has("8BITMIME") && await has8bit(message)) {
    return `${host} does not support 8BITMIME and the message has 8-bit data (RFC 6152 3)`;
  }
  return null;
}

/** MAIL FROM parameters the peer supports: SIZE, BODY, SMTPUTF8, and RET/ENVID with DSN. */
export function mailParams(env: Envelope, ext: Extensions): string {
  let p = "";
  if (ext.has("SIZE")) p += ` SIZE=${env.size}`;
  if (env.bodyType === "8BITMIME" && ext.has("8BITMIME")) p += " BODY=8BITMIME";
  if (env.smtputf8) p += " SMTPUTF8";
  if (ext.has("DSN")) {
    // RFC 3461 4.3, 4.4: pass the sender's DSN requests on.
    if (env.dsn.ret) p += ` RET=${env.dsn.ret}`;
    if (env.dsn.envid) p += ` ENVID=${encodeXtext(env.dsn.envid)}`;
  }
  return p;
}

/** RCPT TO parameters: NOTIFY and ORCPT when the peer supports DSN (RFC 3461 4.1, 4.2). */
export function rcptParams(r: Recipient, ext: Extensions): string {
  if (!ext.has("DSN")) return "";
  let p = "";
  if (r.notify?.length) p += ` NOTIFY=${r.notify.join(",")}`;
  if (r.orcpt) {
    const semi = r.orcpt.indexOf(";");
    if (semi > 0) p += ` ORCPT=${r.orcpt.slice(0, semi)};${encodeXtext(r.orcpt.slice(semi + 1))}`;
  }
  return p;
}

async function has8bit(message: OutboundMessage): Promise<boolean> {
  for await (const chunk of message.body()) {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] > 127) return true;
  }
  return false;
}

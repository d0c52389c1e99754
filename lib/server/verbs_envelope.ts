import { decodeXtext, parsePathArg, Reply, reply } from "../smtp/mod.ts";
import type { Recipient } from "../envelope/mod.ts";
import type { Session } from "./session.ts";
import { gate } from "./policy_gate.ts";
import { spfAtMail } from "./sender_checks.ts";
import { srsRecipient } from "./sender_outbound.ts";
import { newTransaction, type Transaction } from "./transaction.ts";

/** Applies MAIL FROM parameters (RFC 1870 SIZE, 6152 BODY, 6531 SMTPUTF8, 3461 RET/ENVID). */
function applyMailParams(
  s: Session,
  tx: Transaction,
  params: Map<string, string | null>,
): Reply | null {
  if (params.size > 0 && !s.esmtp) return reply(555, "5.5.4", "Parameters need EHLO");
  for (const [key, value] of params) {
    switch (key) {
      case "SIZE": {
        if (!value || !/^\d{1,20}$/.test(value)) return reply(501, "5.5.4", "Bad SIZE value");
        tx.declaredSize = Number(value);
        if (tx.declaredSize > s.config.smtp.max_message_size) {
          return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
        }
        break;
      }
      case "BODY": {
        const body = value?.toUpperCase();
        if (body !== "7BIT" && body !== "8BITMIME") {
          return reply(501, "5.5.4", "BODY must be 7BIT or 8BITMIME");
        }
        tx.bodyType = body;
        break;
      }
      case "SMTPUTF8":
        if (value !== null) return reply(501, "5.5.4", "SMTPUTF8 takes no value");
        tx.smtputf8 = true;
        break;
      case "RET": {
        const ret = value?.toUpperCase();
        if (ret !== "FULL" && ret !== "HDRS") {
          return reply(501, "5.5.4", "RET must be FULL or HDRS");
        }
        tx.dsn.ret = ret;
        break;
      }
      case "ENVID": {
        const envid = value === null ? null : decodeXtext(value);
        if (envid === null || envid.length > 100) return reply(501, "5.5.4", "Bad ENVID value");
        tx.dsn.envid = envid;
        break;
      }
      case "AUTH": // RFC 4954 5: accepted, not trusted
        break;
      default:
        return reply(555, "5.5.4", `Unsupported parameter ${key}`);
    }
  }
  return null;
}

/** MAIL FROM (RFC 5321 4.1.1.2): starts a transaction. */
export async function MAIL(s: Session, arg: string): Promise<Reply> {
  if (!s.helo) return reply(503, "5.5.1", "Send EHLO or HELO first");
  if (s.tx) return reply(503, "5.5.1", "Nested MAIL command");
  if (s.deps.listener.require_auth && !s.authUser) {
    const r = reply(530, "5.7.0", "Authentication required");
    s.logReject(`MAIL FROM ${arg.slice(5, 80)}`, r);
    return r;
  }
  const { address, params } = parsePathArg(arg, "FROM", { utf8: false });
  const tx = newTransaction(address);
  const bad = applyMailParams(s, tx, params);
  if (bad) return bad;
  // The spool's free-space reserve, before any body is sent (logged once per state change).
  if (s.deps.freeSpace && !s.deps.freeSpace.room(tx.declaredSize)) {
    return reply(452, "4.3.1", "Insufficient system storage, try again later");
  }
  s.tx = tx;
  tx.spf = await spfAtMail(s, address);
  const g = await gate(s, "mail", { sender: address }, `MAIL FROM:<${address}>`);
  if (!g.pass) {
    s.endTransaction();
    return g.reply;
  }
  return reply(250, "2.1.0", "Sender OK");
}

/** Parses NOTIFY (RFC 3461 4.1): NEVER alone, or any of SUCCESS, FAILURE, DELAY. */
function parseNotify(value: string | null): string[] | null {
  if (!value) return null;
  const items = value.toUpperCase().split(",");
  const known = new Set(["SUCCESS", "FAILURE", "DELAY"]);
  if (items.length === 1 && items[0] === "NEVER") return items;
  if (items.every((i) => known.has(i)) && new Set(items).size === items.length) return items;
  return null;
}

/** Parses ORCPT (RFC 3461 4.2): `addr-type;xtext`. */
function parseOrcpt(value: string | null): string | null {
  const m = value ? /^([A-Za-z0-9-]+);(.+)$/.exec(value) : null;
  if (!m) return null;
  const addr = decodeXtext(m[2]);
  return addr === null ? null : `${m[1].toLowerCase()};${addr}`;
}

function recipientFrom(address: string, params: Map<string, string | null>): Recipient | Reply {
  const rcpt: Recipient = { address, status: "pending", attempts: 0, nextAttempt: 0 };
  for (const [key, value] of params) {
    if (key === "NOTIFY") {
      const notify = parseNotify(value);
      if (!notify) return reply(501, "5.5.4", "Bad NOTIFY value");
      rcpt.notify = notify;
    } else if (key === "ORCPT") {
      const orcpt = parseOrcpt(value);
      if (!orcpt) return reply(501, "5.5.4", "Bad ORCPT value");
      rcpt.orcpt = orcpt;
    } else return reply(555, "5.5.4", `Unsupported parameter ${key}`);
  }
  return rcpt;
}

/** RCPT TO (RFC 5321 4.1.1.3): adds a recipient if relay control allows it. */
export async function RCPT(s: Session, arg: string): Promise<Reply> {
  const tx = s.tx;
  if (!tx) return reply(503, "5.5.1", "Need MAIL before RCPT");
  if (tx.bdat) return reply(503, "5.5.1", "RCPT not allowed during BDAT");
  const { address, params } = parsePathArg(arg, "TO", { utf8: tx.smtputf8 });
  if (params.size > 0 && !s.esmtp) return reply(555, "5.5.4", "Parameters need EHLO");
  const rcpt = recipientFrom(address, params);
  if (rcpt instanceof Reply) return rcpt;
  if (tx.recipients.length >= s.config.smtp.max_recipients) {
    const r = reply(452, "4.5.3", "Too many recipients");
    s.logReject(`RCPT <${address}>`, r);
    return r;
  }
  // A bounce to one of our SRS addresses goes to the address it stands for.
  const srs = srsRecipient(s, address);
  if (srs instanceof Reply) {
    s.logReject(`RCPT <${address}>`, srs);
    return srs;
  }
  // The rcpt ACL ends with the built-in relay control: never an open relay.
  const g = await gate(s, "rcpt", { rcpt: address }, `RCPT <${address}>`);
  if (!g.pass) return g.reply;
  if (srs) rcpt.address = srs;
  if (g.discard) {
    tx.discarded = (tx.discarded ?? 0) + 1;
  } else if (!tx.recipients.some((r) => r.address === rcpt.address)) {
    tx.recipients.push(rcpt);
    s.policy.addRecipient(rcpt.address);
  }
  return reply(250, "2.1.5", "Recipient OK");
}

import { isValidHelo, type Reply, reply } from "../smtp/mod.ts";
import type { Session } from "./session.ts";
import { gate } from "./policy_gate.ts";

function resetTransaction(s: Session): void {
  s.endTransaction();
}

/** Runs the helo ACL with the new name; on refusal the old name stays. */
async function heloGate(s: Session, name: string, verb: string): Promise<Reply | null> {
  s.policy.setHelo(name);
  const g = await gate(s, "helo", {}, `${verb} ${name}`);
  if (g.pass) return null;
  s.policy.setHelo(s.helo ?? "");
  return g.reply;
}

function heloCheck(s: Session, arg: string, verb: string): Reply | null {
  const name = arg.trim();
  if (!name) return reply(501, "5.5.4", `Syntax: ${verb} hostname`);
  if (!isValidHelo(name)) {
    const r = reply(501, "5.5.4", "Invalid domain name");
    s.logReject(`${verb} ${JSON.stringify(name.slice(0, 64))}`, r);
    return r;
  }
  return null;
}

/** Tells whether AUTH may be offered and used on this session now. */
export function authAvailable(s: Session): boolean {
  return s.deps.listener.auth && s.deps.credentials !== null &&
    (s.tls !== null || s.deps.listener.auth_without_tls);
}

/** Tells whether STARTTLS may be offered now. */
export function starttlsAvailable(s: Session): boolean {
  return s.deps.listener.starttls && s.deps.tls !== null && s.tls === null && s.conn !== null;
}

/** EHLO (RFC 5321 4.1.1.1): identifies the client and lists the extensions. */
export async function EHLO(s: Session, arg: string): Promise<Reply> {
  const bad = heloCheck(s, arg, "EHLO") ?? await heloGate(s, arg.trim(), "EHLO");
  if (bad) return bad;
  resetTransaction(s);
  s.helo = arg.trim();
  s.esmtp = true;
  const c = s.config;
  const lines = [
    `${c.server.hostname} Hello ${s.helo} [${s.peer.ip}]`,
    "PIPELINING",
    `SIZE ${c.smtp.max_message_size}`,
    "8BITMIME",
    "SMTPUTF8",
    "ENHANCEDSTATUSCODES",
    "CHUNKING",
    "DSN",
  ];
  if (starttlsAvailable(s)) lines.push("STARTTLS");
  if (authAvailable(s) && s.authUser === null) lines.push(`AUTH ${c.auth.mechanisms.join(" ")}`);
  lines.push("HELP");
  return reply(250, null, lines);
}

/** HELO (RFC 5321 4.1.1.1): plain SMTP, no extensions. */
export async function HELO(s: Session, arg: string): Promise<Reply> {
  const bad = heloCheck(s, arg, "HELO") ?? await heloGate(s, arg.trim(), "HELO");
  if (bad) return bad;
  resetTransaction(s);
  s.helo = arg.trim();
  s.esmtp = false;
  return reply(250, null, `${s.config.server.hostname} Hello ${s.helo} [${s.peer.ip}]`);
}

/** RSET (RFC 5321 4.1.1.5): aborts the transaction. */
export function RSET(s: Session, arg: string): Reply {
  if (arg.trim()) return reply(501, "5.5.4", "Syntax: RSET");
  resetTransaction(s);
  return reply(250, "2.0.0", "Reset OK");
}

/** NOOP (RFC 5321 4.1.1.9). */
export function NOOP(_s: Session, _arg: string): Reply {
  return reply(250, "2.0.0", "OK");
}

/** QUIT (RFC 5321 4.1.1.10): the reply closes the connection. */
export async function QUIT(s: Session, _arg: string): Promise<Reply> {
  s.quitSeen = true;
  await gate(s, "quit"); // for logging: QUIT is always answered
  return reply(221, "2.0.0", `${s.config.server.hostname} closing connection`).closing();
}

/** VRFY (RFC 5321 3.5.3): 252, never reveals who exists. */
export function VRFY(_s: Session, arg: string): Reply {
  if (!arg.trim()) return reply(501, "5.5.4", "Syntax: VRFY address");
  return reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

/** EXPN: not offered (lists are private). */
export function EXPN(_s: Session, _arg: string): Reply {
  return reply(502, "5.5.1", "EXPN not available");
}

/** HELP (RFC 5321 4.1.1.8). */
export function HELP(_s: Session, _arg: string): Reply {
  return reply(214, "2.0.0", [
    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
    "See RFC 5321",
  ]);
}

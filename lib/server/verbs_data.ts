import { BareNewlineFilter, DotDecoder, type Reply, reply } from "../smtp/mod.ts";
import { concat } from "./bytes.ts";
import { SpoolError, SpoolWriter } from "../spool/mod.ts";
import { type Envelope, newMessageId } from "../envelope/mod.ts";
import { NO_REPLY, type Session } from "./session.ts";
import type { Transaction } from "./transaction.ts";
import { protocolName, receivedHeader, rfc5322Date } from "./received.ts";
import { headerMap, headerSection, headerValue } from "./headers.ts";
import { gate } from "./policy_gate.ts";
import { checkMessage } from "./sender_checks.ts";
import { forensicIfAsked } from "./dmarc_forensic.ts";
import { arcSealed, sign, signerFor, srsSenderFor } from "./sender_outbound.ts";

const encoder = new TextEncoder();

function protocolOf(s: Session, tx: Transaction): string {
  return protocolName(s.esmtp, s.tls !== null, s.authUser !== null, tx.smtputf8);
}

/**
 * Starts a body streamed to the spool; returns the writer (also kept in the transaction, so
 * that ending the transaction drops it) and our Received header (RFC 5321 4.4), which goes in
 * the head record in front of the body.
 */
function startBody(
  s: Session,
  tx: Transaction,
  id: string,
): { body: SpoolWriter; received: Uint8Array } {
  const received = encoder.encode(receivedHeader({
    helo: s.helo ?? "",
    hostname: s.peer.hostname,
    ip: s.peer.ip,
    by: s.config.server.hostname,
    protocol: protocolOf(s, tx),
    id,
    tls: s.tls ?? undefined,
    for: tx.recipients.length === 1 ? tx.recipients[0].address : undefined,
  }));
  const body = new SpoolWriter(s.deps.spool, id, s.config.smtp.max_message_size);
  tx.body = body;
  return { body, received };
}

/** Why the session stopped reading input. */
type ReadEnd = "eof" | "timeout" | null;

async function waitForData(s: Session): Promise<ReadEnd> {
  const r = await s.input.fill(s.config.smtp.data_timeout, "large");
  if (r === "data") return null;
  s.deps.log.info(
    `${r === "eof" ? "unexpected disconnection" : "SMTP data timeout"} while reading message ` +
      `data from ${s.hostText}${s.tx ? ` F=<${s.tx.sender}>` : ""}`,
    { event: r === "eof" ? "lost" : "timeout", ip: s.peer.ip },
  );
  return r;
}

/** DATA (RFC 5321 4.1.1.4): reads the dot-stuffed message, then spools it. */
export async function DATA(s: Session, arg: string): Promise<Reply> {
  if (arg.trim()) return reply(501, "5.5.4", "Syntax: DATA");
  const tx = s.tx;
  if (!tx) return reply(503, "5.5.1", "Need MAIL command");
  if (tx.bdat) return reply(503, "5.5.1", "DATA not allowed after BDAT");
  if (tx.recipients.length === 0 && !tx.discarded) {
    return reply(554, "5.5.1", "No valid recipients");
  }
  const pre = await gate(s, "predata", {}, "DATA");
  if (!pre.pass) return pre.reply;
  if (pre.discard) tx.discard = true;
  const id = newMessageId();
  const { body, received } = startBody(s, tx, id);
  s.send(reply(354, null, "End data with <CR><LF>.<CR><LF>"));
  await s.flush();
  const decoder = new DotDecoder(s.config.smtp.bare_newline);
  const write = (piece: Uint8Array) => body.write(piece);
  for (;;) {
    const view = s.input.view();
    if (view.length > 0) {
      const end = decoder.feed(view, write);
      s.input.consume(end >= 0 ? end : view.length);
      if (end >= 0) break;
      if (body.backlogged) await body.drain(); // memory stays bounded: the disk sets the pace
    }
    const stop = await waitForData(s);
    if (stop) return abort(s);
  }
  const refused = bareNewlineVerdict(s, id, "DATA", decoder);
  if (refused) return refused;
  return await finishMessage(s, tx, id, body, received);
}

/** The client is gone or timed out (the sweeper already said 421): nothing is spooled. */
function abort(s: Session): Reply {
  s.endTransaction();
  s.close();
  return NO_REPLY;
}

/** BDAT (RFC 3030 2): a chunk of exactly `size` octets; the LAST one ends the message. */
export async function BDAT(s: Session, arg: string): Promise<Reply> {
  const m = /^(\d{1,15})(?:\s+(LAST))?$/i.exec(arg.trim());
  if (!m) {
    // The chunk length is unknown, so the input cannot be followed any longer.
    return reply(501, "5.5.4", "Syntax: BDAT size [LAST]").closing();
  }
  const size = Number(m[1]);
  const last = m[2] !== undefined;
  const tx = s.tx;
  let error: Reply | null = null;
  if (!s.esmtp) error = reply(503, "5.5.1", "BDAT needs EHLO");
  else if (!tx) error = reply(503, "5.5.1", "Need MAIL command");
  else if (tx.recipients.length === 0 && !tx.discarded) {
    error = reply(554, "5.5.1", "No valid recipients");
  }
  if (tx && !error && !tx.bdat) {
    const pre = await gate(s, "predata", {}, "BDAT");
    if (!pre.pass) error = pre.reply;
    else {
      if (pre.discard) tx.discard = true;
      const id = newMessageId();
      const newlines = new BareNewlineFilter(s.config.smtp.bare_newline);
      tx.bdat = { id, received: startBody(s, tx, id).received, newlines };
    }
  }
  // RFC 3030 2: the chunk is read whatever the reply will be.
  let remaining = size;
  while (remaining > 0) {
    const view = s.input.view();
    const n = Math.min(view.length, remaining);
    if (n > 0) {
      if (!error) {
        const body = tx!.body!;
        tx!.bdat!.newlines.feed(view.subarray(0, n), (piece) => body.write(piece));
      }
      s.input.consume(n);
      remaining -= n;
      if (!error && tx!.body!.backlogged) await tx!.body!.drain();
    }
    if (remaining > 0) {
      const stop = await waitForData(s);
      if (stop) return abort(s);
    }
  }
  if (error) {
    if (s.tx) s.endTransaction(); // a failed chunk fails the transaction
    return error;
  }
  if (!last) return reply(250, "2.0.0", `${size} octets received`);
  const { id, received, newlines } = tx!.bdat!;
  const body = tx!.body!;
  newlines.end((piece) => body.write(piece));
  // The same bare_newline rule as DATA (RFC 5321 2.3.8).
  const refused = bareNewlineVerdict(s, id, "BDAT", newlines);
  if (refused) return refused;
  return await finishMessage(s, tx!, id, body, received);
}

/**
 * A body had bare CR or LF (RFC 5321 2.3.8): logged, and with `bare_newline = "reject"` the
 * transaction ends with 550 5.5.2. Null when the message may go on.
 */
function bareNewlineVerdict(
  s: Session,
  id: string,
  verb: "DATA" | "BDAT",
  seen: { bareLf: boolean; bareCr: boolean },
): Reply | null {
  if (!seen.bareLf && !seen.bareCr) return null;
  s.deps.log.debug(`${id} message from ${s.hostText} had bare CR or LF`, { id });
  if (s.config.smtp.bare_newline !== "reject") return null;
  s.endTransaction();
  const r = reply(550, "5.5.2", "Message contains bare <CR> or <LF>; lines must end in <CR><LF>");
  s.logReject(verb, r);
  return r;
}

/** The domain of the (first) address in a From header value, or null. */
function fromDomain(from: string | null): string | null {
  const m = from ? /@([A-Za-z0-9.-]+)>?\s*(?:,|$)/.exec(from) : null;
  return m ? m[1].toLowerCase() : null;
}

/** Header lines to add below our Received: ACL headers, and for submission Message-ID/Date. */
function addedHeaders(s: Session, id: string, section: string): string {
  let added = s.pendingHeaders.map((h) => `${h}\r\n`).join("");
  if (s.deps.listener.role === "submission") { // RFC 6409 8.2, 8.3
    if (headerValue(section, "Message-ID") === null) {
      added += `Message-ID: <${id}@${s.config.server.hostname}>\r\n`;
    }
    if (headerValue(section, "Date") === null) added += `Date: ${rfc5322Date()}\r\n`;
  }
  return added;
}

/** The message as stored: `head` (header fields we add), then the body, piece by piece. */
async function* messageOf(head: Uint8Array, body: SpoolWriter): AsyncGenerator<Uint8Array> {
  yield head;
  yield* body.read();
}

/**
 * Runs the data ACL, then spools the message; 250 is sent only after the commit is durable.
 * The body is already in the spool (or in memory when small); what we add in front of it
 * (Received, ACL headers, Message-ID/Date, ARC set, DKIM-Signature) is its head record.
 */
async function finishMessage(
  s: Session,
  tx: Transaction,
  id: string,
  body: SpoolWriter,
  received: Uint8Array,
): Promise<Reply> {
  if (body.tooBig) {
    s.endTransaction();
    const r = reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
    s.logReject(`DATA (${body.size} bytes)`, r);
    return r;
  }
  try {
    return await storeMessage(s, tx, id, body, received);
  } finally {
    body.drop(); // refused, discarded, failed or thrown: nothing stays behind (no-op once stored)
  }
}

async function storeMessage(
  s: Session,
  tx: Transaction,
  id: string,
  body: SpoolWriter,
  received: Uint8Array,
): Promise<Reply> {
  const start = body.start();
  const section = headerSection([received, start]);
  const message = { size: body.size, headers: headerMap(section) };
  await checkMessage(s, tx.spf ?? null, () => messageOf(received, body));
  const g = await gate(s, "data", { message }, "DATA");
  await forensicIfAsked(s, tx, [received, start]);
  if (!g.pass || g.discard || tx.discard || tx.recipients.length === 0) {
    s.endTransaction();
    if (!g.pass) return g.reply;
    s.deps.log.info(`${id} <= ${tx.sender || "<>"} ${s.hostText} discarded by ACL`, {
      id,
      event: "discard",
    });
    return reply(250, "2.0.0", `OK queued as ${id}`);
  }
  let head = concat([received, encoder.encode(addedHeaders(s, id, section))]);
  const sealed = await arcSealed(s, () => messageOf(head, body));
  if (sealed) head = concat([encoder.encode(sealed), head]);
  tx.body = undefined; // finishMessage owns it from here
  s.endTransaction();
  const signer = signerFor(s, fromDomain(headerValue(section, "From")));
  if (signer) {
    head = concat([encoder.encode(await sign(() => messageOf(head, body), signer)), head]);
  }
  const messageId = headerValue(section, "Message-ID") ??
    headerValue(headerSection([head]), "Message-ID") ?? undefined;
  const now = Date.now();
  const envelope: Envelope = {
    id,
    sender: tx.sender,
    recipients: tx.recipients.map((r) => ({ ...r, nextAttempt: now })),
    dsn: tx.dsn,
    bodyType: tx.bodyType,
    smtputf8: tx.smtputf8,
    client: { ip: s.peer.ip, port: s.peer.port, hostname: s.peer.hostname, helo: s.helo ?? "" },
    protocol: protocolOf(s, tx).toLowerCase(),
    tls: s.tls ?? undefined,
    authUser: s.authUser ?? undefined,
    authMechanism: s.authMechanism ?? undefined,
    listener: s.deps.listener.address,
    proxy: s.proxy,
    srsSender: srsSenderFor(s, tx.sender),
    received: now,
    size: 0,
    chunks: 0,
    messageId,
  };
  if (s.deps.dryRun) return reply(250, "2.0.0", `OK ${id} (test session: not queued)`);
  try {
    await body.finish(envelope, head, s.deps.indexMutations?.(envelope) ?? []);
  } catch (e) {
    if (!(e instanceof SpoolError)) throw e;
    s.deps.log.error(`${id} spool write failed for message from ${s.hostText}: ${e.message}`, {
      id,
      error: String(e.cause ?? e),
    });
    return reply(451, "4.3.0", "Local error in processing; try again later");
  }
  logArrival(s, envelope);
  s.deps.accepted?.(envelope);
  return reply(250, "2.0.0", `OK queued as ${id}`);
}

/** The arrival line: Exim's `<=` with H=, P=, X=, A=, S=, id= (and PRX= when asked). */
function logArrival(s: Session, e: Envelope): void {
  const parts = [`${e.id} <= ${e.sender || "<>"}`, s.hostText, `P=${e.protocol}`];
  if (e.tls) {
    parts.push(`X=${e.tls.version.replace("TLSv", "TLS")}:${e.tls.cipher}:${e.tls.bits ?? ""}`);
  }
  if (e.authUser) parts.push(`A=${e.authMechanism?.toLowerCase()}:${e.authUser}`);
  if (e.proxy && s.config.log.proxy) parts.push(`PRX=${e.proxy.ip}`);
  parts.push(`S=${e.size}`);
  if (e.messageId) parts.push(`id=${e.messageId.replace(/\s/g, "")}`);
  s.deps.log.info(parts.join(" "), {
    event: "arrival",
    id: e.id,
    sender: e.sender,
    recipients: e.recipients.map((r) => r.address),
    ip: e.client.ip,
    port: e.client.port,
    helo: e.client.helo,
    protocol: e.protocol,
    tls: e.tls,
    auth: e.authUser,
    proxy: e.proxy?.ip,
    size: e.size,
    message_id: e.messageId,
  });
}

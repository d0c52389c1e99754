import { type Envelope, newMessageId, type Recipient } from "../envelope/mod.ts";
import type { RecipientResult } from "../transport/mod.ts";

/** The Action of a DSN (RFC 3464 2.3.3) this relay sends. */
export type DsnAction = "failed" | "delayed" | "relayed";

/** One recipient to report on. */
export interface ReportedRecipient {
  recipient: Recipient;
  result: RecipientResult;
}

/** What a DSN is built from. */
export interface DsnInput {
  /** The original message's envelope. */
  envelope: Envelope;
  /** Recipients to report, with what happened to each. */
  recipients: ReportedRecipient[];
  /** `failed` (bounce), `delayed` (warning) or `relayed` (success notice, RFC 3461 6.2). */
  action: DsnAction;
  /** Our host name (Reporting-MTA, From). */
  hostname: string;
  /** The original message (headers and body as spooled). */
  original: Uint8Array;
  /** Now, for Date fields. */
  now?: Date;
  /** For delay warnings: when we give up (Will-Retry-Until). */
  willRetryUntil?: Date;
  /** Return at most this many bytes of the original in full; beyond, headers only. */
  returnLimit?: number;
}

const RETURN_LIMIT = 1024 * 1024;

/**
 * Tells whether the sender asked for (or by default gets) this kind of notice for a recipient
 * (RFC 3461 4.1): never for the null sender (RFC 5321 6.1: no bounce of a bounce), never with
 * NOTIFY=NEVER, and with NOTIFY given only for the listed conditions.
 */
export function wantsNotice(env: Envelope, r: Recipient, action: DsnAction): boolean {
  if (env.sender === "") return false;
  if (!r.notify || r.notify.length === 0) return action !== "relayed"; // FAILURE,DELAY
  return r.notify.includes(
    action === "failed" ? "FAILURE" : action === "delayed" ? "DELAY" : "SUCCESS",
  );
}

/** Makes a value safe for one header field line: no CR/LF or other controls, ASCII, bounded. */
export function sanitize(value: string, max = 900): string {
  // deno-lint-ignore no-control-regex
  const v = value.replace(/[\r\n\t]+/g, " ").replace(/[\x00-\x1f\x7f]/g, "?")
    .replace(/[^\x20-\x7e]/g, "?").trim();
  return v.length > max ? v.slice(0, max) + "..." : v;
}

/** The Status: of a recipient (RFC 3464 2.3.4, RFC 3463). */
export function statusOf(res: RecipientResult, action: DsnAction): string {
  if (action === "relayed") return "2.0.0";
  if (res.reply?.enhanced) {
    const [c, ...rest] = res.reply.enhanced.split(".");
    const cls = action === "failed" ? "5" : "4";
    return c === cls ? res.reply.enhanced : [cls, ...rest].join(".");
  }
  const cls = action === "failed" ? "5" : "4";
  const d = res.diagnostic;
  if (/null MX/.test(d)) return "5.1.10"; // RFC 7505 3.2
  if (/NXDOMAIN|no such domain/.test(d)) return `${cls}.1.2`;
  if (/retry time/i.test(d)) return `${cls}.4.7`;
  if (/8BITMIME|SMTPUTF8/.test(d)) return `${cls}.6.${/SMTPUTF8/.test(d) ? 7 : 3}`;
  if (/exceeds/.test(d)) return `${cls}.3.4`;
  if (/connect|timeout|Timeout/i.test(d)) return `${cls}.4.1`;
  return `${cls}.0.0`;
}

function rfc5322Date(d: Date): string {
  return d.toUTCString().replace("GMT", "+0000");
}

/** The per-recipient block of message/delivery-status, with Exim's DSN_INFO extras. */
function recipientBlock(rr: ReportedRecipient, action: DsnAction, now: Date): string[] {
  const { recipient: r, result: res } = rr;
  const f: string[] = [];
  if (r.orcpt) f.push(`Original-Recipient: ${sanitize(r.orcpt)}`);
  f.push(`Final-Recipient: rfc822;${sanitize(r.address)}`);
  f.push(`Action: ${action}`);
  f.push(`Status: ${statusOf(res, action)}`);
  const m = res.remote;
  if (m) {
    const ip = `[${m.ip}]`;
    f.push(`Remote-MTA: X-ip; ${ip}${m.port !== 25 ? `:${m.port}` : ""}`);
    if (m.greeting) f.push(`X-Remote-MTA-smtp-greeting: X-str; ${sanitize(m.greeting)}`);
    if (m.heloResponse) f.push(`X-Remote-MTA-helo-response: X-str; ${sanitize(m.heloResponse)}`);
  }
  if (res.reply) {
    const r2 = res.reply;
    f.push(
      `Diagnostic-Code: smtp; ${
        sanitize(`${r2.code}${r2.enhanced ? " " + r2.enhanced : ""} ${r2.text}`)
      }`,
    );
  }
  f.push(`X-Relay-Diagnostic: X-str; ${sanitize(res.diagnostic)}`);
  f.push(`Last-Attempt-Date: ${rfc5322Date(now)}`);
  return f;
}

function headerEnd(body: Uint8Array): number {
  for (let i = 0; i + 1 < body.length; i++) {
    if (
      body[i] === 0x0a && (body[i + 1] === 0x0a || (body[i + 1] === 0x0d && body[i + 2] === 0x0a))
    ) {
      return i + 1;
    }
  }
  return body.length;
}

const SUBJECT: Record<DsnAction, string> = {
  failed: "Mail delivery failed: returning message to sender",
  delayed: "Warning: message delayed",
  relayed: "Delivery status notification: relayed",
};

const INTRO: Record<DsnAction, (minutes: number) => string[]> = {
  failed: () => [
    "A message that you sent could not be delivered to one or more of its recipients.",
    "This is a permanent error. The following address(es) failed:",
  ],
  delayed: (minutes) => [
    "A message that you sent has not yet been delivered to one or more of its recipients",
    `after ${minutes} minutes. It will be tried again. No action is required on your part.`,
  ],
  relayed: () => [
    "Your message was passed on to the following address(es), as you asked. The next mail",
    "server does not report delivery, so this is the last notice you will get about them:",
  ],
};

/**
 * Builds an RFC 3464 delivery status notification (multipart/report) to the original sender,
 * as a new message from the null sender ready for the spool.
 */
export function buildDsn(input: DsnInput): { envelope: Envelope; body: Uint8Array } {
  const env = input.envelope;
  const now = input.now ?? new Date();
  const host = sanitize(input.hostname || "localhost");
  const id = newMessageId(now.getTime());
  const boundary = `${id}/${host}`;
  // Success notices carry the headers only, as Postfix's do.
  const full = env.dsn.ret !== "HDRS" && input.action !== "relayed" &&
    input.original.length <= (input.returnLimit ?? RETURN_LIMIT);
  const original = full ? input.original : input.original.subarray(0, headerEnd(input.original));
  const lines = (xs: string[]) => xs.join("\r\n") + "\r\n";
  const human = [
    "This message was created automatically by mail delivery software.",
    "",
    ...INTRO[input.action](Math.round((now.getTime() - env.received) / 60_000)),
    "",
    ...input.recipients.flatMap((rr) => [
      `  ${sanitize(rr.recipient.address)}`,
      `    ${sanitize(rr.result.diagnostic, 500)}`,
    ]),
  ];
  if (!full) human.push("", "Only the headers of the original message are returned.");
  const perMessage = [`Reporting-MTA: dns; ${host}`];
  if (env.dsn.envid) perMessage.push(`Original-Envelope-Id: ${sanitize(env.dsn.envid)}`);
  perMessage.push(`Arrival-Date: ${rfc5322Date(new Date(env.received))}`);
  const blocks = input.recipients.map((rr) => {
    const b = recipientBlock(rr, input.action, now);
    if (input.action === "delayed" && input.willRetryUntil) {
      b.push(`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`);
    }
    return lines(b);
  });
  const to = sanitize(env.sender);
  const head = lines([
    `From: Mail Delivery System <MAILER-DAEMON@${host}>`,
    `To: <${to}>`,
    `Subject: ${SUBJECT[input.action]}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${id}@${host}>`,
    "Auto-Submitted: auto-replied", // RFC 3834 5
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    "",
    "This is a MIME-encapsulated message.",
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    ...human,
    "",
    `--${boundary}`,
    "Content-Type: message/delivery-status",
    "",
    ...perMessage,
    "",
  ]);
  const middle = blocks.join("\r\n") + lines([
    "",
    `--${boundary}`,
    `Content-Type: ${full ? "message/rfc822" : "text/rfc822-headers"}`,
    "",
  ]);
  const tail = lines(["", `--${boundary}--`]);
  const enc = new TextEncoder();
  const parts = [enc.encode(head), enc.encode(middle), original, enc.encode(tail)];
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    body.set(p, off);
    off += p.length;
  }
  const envelope: Envelope = {
    id,
    sender: "",
    recipients: [{ address: env.sender, status: "pending", attempts: 0, nextAttempt: 0 }],
    dsn: {},
    bodyType: env.bodyType === "7BIT" ? "7BIT" : "8BITMIME",
    smtputf8: /[^\x20-\x7e]/.test(env.sender),
    client: { ip: "127.0.0.1", port: 0, helo: host },
    protocol: "local",
    listener: "bounce",
    received: now.getTime(),
    size: body.length,
    chunks: 0,
    messageId: `<${id}@${host}>`,
  };
  return { envelope, body };
}

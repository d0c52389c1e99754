import { rfc5322Date } from "../server/mod.ts";
import { isNonAscii, mailboxProblem } from "../smtp/mod.ts";
import { type Envelope, localEnvelope, newMessageId } from "../envelope/mod.ts";

/** A message handed to {@linkcode Relay.inject}. */
export interface InjectedMessage {
  /** Envelope sender; `""` is the null sender. */
  sender: string;
  /** Envelope recipients (at least one). */
  recipients: string[];
  /** The RFC 5322 message (header section, empty line, body), CRLF or LF line ends. */
  content: string | Uint8Array;
}

/** An address or message that cannot be injected. */
export class InjectError extends Error {
  /** Always `InjectError`. */
  override name = "InjectError";
}

/** Builds the envelope and stored body of an injected message (Received, Message-ID, Date added). */
export function injectedEnvelope(
  m: InjectedMessage,
  hostname: string,
): { envelope: Envelope; body: Uint8Array } {
  if (m.recipients.length === 0) throw new InjectError("Cannot inject a message: no recipients");
  for (const a of [m.sender, ...m.recipients].filter((a) => a !== "")) {
    const problem = mailboxProblem(a, isNonAscii(a));
    if (problem) throw new InjectError(`Cannot inject a message: <${a}>: ${problem}`);
  }
  if (m.recipients.includes("")) throw new InjectError("Cannot inject a message: empty recipient");
  const id = newMessageId();
  const text = typeof m.content === "string" ? m.content : new TextDecoder().decode(m.content);
  const crlf = text.replace(/\r?\n/g, "\r\n");
  const headEnd = crlf.indexOf("\r\n\r\n");
  const head = headEnd < 0 ? crlf : crlf.slice(0, headEnd + 2);
  const date = new Date();
  let added = `Received: by ${hostname} (edge relay) with local id ${id};\r\n\t${
    rfc5322Date(date)
  }\r\n`;
  if (!/^message-id:/im.test(head)) added += `Message-ID: <${id}@${hostname}>\r\n`;
  if (!/^date:/im.test(head)) added += `Date: ${rfc5322Date(date)}\r\n`;
  const body = new TextEncoder().encode(added + (crlf.endsWith("\r\n") ? crlf : crlf + "\r\n"));
  const envelope = localEnvelope({
    id,
    sender: m.sender,
    recipients: m.recipients,
    hostname,
    origin: "inject",
  });
  envelope.size = body.length;
  envelope.bodyType = isNonAscii(text) ? "8BITMIME" : "7BIT";
  envelope.smtputf8 = [m.sender, ...m.recipients].some(isNonAscii);
  envelope.messageId = head.match(/^message-id:\s*(.+)$/im)?.[1].trim() ?? `<${id}@${hostname}>`;
  return { envelope, body };
}

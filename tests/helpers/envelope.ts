/** Envelopes for tests that put messages into the spool or hand them to a transport directly. */
import { type Envelope, newMessageId, type Recipient } from "../../lib/envelope/mod.ts";

/** A pending recipient, or one with the given fields. */
export function testRecipient(r: string | Partial<Recipient> & { address: string }): Recipient {
  return {
    status: "pending",
    attempts: 0,
    nextAttempt: 0,
    ...(typeof r === "string" ? { address: r } : r),
  };
}

/**
 * A plausible envelope from `sender@origin.test` as received from 127.0.0.1; `fields` override
 * any part (recipients may be given as plain addresses).
 */
export function testEnvelope(
  fields: Omit<Partial<Envelope>, "recipients"> & {
    recipients?: (string | Partial<Recipient> & { address: string })[];
  } = {},
): Envelope {
  const { recipients = [], ...rest } = fields;
  return {
    id: newMessageId(),
    sender: "sender@origin.test",
    dsn: {},
    bodyType: "7BIT",
    smtputf8: false,
    client: { ip: "127.0.0.1", port: 1, helo: "client.test" },
    protocol: "esmtp",
    listener: "127.0.0.1:2525",
    received: Date.now(),
    size: 0,
    chunks: 0,
    ...rest,
    recipients: recipients.map(testRecipient),
  };
}

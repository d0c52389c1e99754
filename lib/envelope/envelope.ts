/** DSN parameters given with MAIL FROM (RFC 3461 4.3, 4.4). */
export interface MailDsn {
  /** RET=FULL or RET=HDRS. */
  ret?: "FULL" | "HDRS";
  /** ENVID, decoded from xtext. */
  envid?: string;
}

/** Where a recipient stands in delivery. */
export type RecipientStatus = "pending" | "delivered" | "deferred" | "failed";

/** One recipient of a spooled message, with its DSN parameters and delivery state. */
export interface Recipient {
  /** The address as given in RCPT TO, without angle brackets. */
  address: string;
  /** NOTIFY=, upper case (RFC 3461 4.1): NEVER, or any of SUCCESS, FAILURE, DELAY. */
  notify?: string[];
  /** ORCPT= as `addr-type;address`, decoded from xtext (RFC 3461 4.2). */
  orcpt?: string;
  /** Delivery state; `pending` when spooled. */
  status: RecipientStatus;
  /** Delivery attempts made so far. */
  attempts: number;
  /** Epoch milliseconds of the next attempt (when pending or deferred). */
  nextAttempt: number;
  /** The last error text, for `queue list` and bounces. */
  lastError?: string;
}

/** Facts about the SMTP client a message came from. */
export interface ClientInfo {
  /** The client's IP address (the original client's when PROXY was used). */
  ip: string;
  /** The client's port. */
  port: number;
  /** Verified reverse DNS name, when looked up and found. */
  hostname?: string;
  /** The name given in EHLO/HELO. */
  helo: string;
}

/** TLS facts of the session a message arrived on. */
export interface TlsInfo {
  /** For example `TLSv1.3`. */
  version: string;
  /** Cipher suite name. */
  cipher: string;
  /** Cipher strength in bits, when known. */
  bits?: number;
}

/** What {@linkcode localEnvelope} needs. */
export interface LocalMessage {
  id: string;
  sender: string;
  recipients: string[];
  /** Our host name (the "client" of a message the relay makes itself). */
  hostname: string;
  /** What made it, for `queue show` (for example `dmarc-report`). */
  origin: string;
}

/** The envelope of a message the relay makes itself (reports, notices), ready to store. */
export function localEnvelope(m: LocalMessage): Envelope {
  const now = Date.now();
  return {
    id: m.id,
    sender: m.sender,
    recipients: m.recipients.map((address) => ({
      address,
      status: "pending",
      attempts: 0,
      nextAttempt: now,
    })),
    dsn: {},
    bodyType: "7BIT",
    smtputf8: false,
    client: { ip: "127.0.0.1", port: 0, helo: m.hostname },
    protocol: "local",
    listener: m.origin,
    received: now,
    size: 0,
    chunks: 0,
  };
}

/** Everything the spool keeps about a message besides its body. */
export interface Envelope {
  /** Unique, sortable message id. */
  id: string;
  /** Envelope sender; the empty string is the null sender `<>`. */
  sender: string;
  /** Recipients with per-recipient state. */
  recipients: Recipient[];
  /** DSN parameters from MAIL FROM. */
  dsn: MailDsn;
  /** BODY= parameter. */
  bodyType: "7BIT" | "8BITMIME" | "BINARYMIME";
  /** SMTPUTF8 was given with MAIL FROM. */
  smtputf8: boolean;
  /** The client. */
  client: ClientInfo;
  /** Protocol name for logs and Received (RFC 3848): smtp, esmtp, esmtps, esmtpa, esmtpsa. */
  protocol: string;
  /** TLS facts when the session used TLS. */
  tls?: TlsInfo;
  /** The authenticated user, when AUTH succeeded. */
  authUser?: string;
  /** The AUTH mechanism used. */
  authMechanism?: string;
  /** The listener's address as configured, for example `127.0.0.1:2525`. */
  listener: string;
  /** The proxy that forwarded the connection (PROXY protocol), if any. */
  proxy?: { ip: string; port: number };
  /** Epoch milliseconds when the message was accepted. */
  received: number;
  /** Body size in bytes as stored (including the added Received header). */
  size: number;
  /** Number of body chunks in the spool. */
  chunks: number;
  /** SHA-256 of the stored body (hex), set at commit; checked before the body is sent. */
  bodySha256?: string;
  /**
   * Why the queue stopped delivering this message (its body does not match this envelope):
   * a frozen message is kept, never sent, until an admin removes it.
   */
  frozen?: string;
  /** Bytes of the head record (`["body", id, -1]`, header fields we added), when it has one. */
  headSize?: number;
  /**
   * The envelope sender to use in MAIL FROM when forwarding (SRS, RFC-less but common:
   * Sender Rewriting Scheme). Bounces the relay makes itself still go to `sender`.
   */
  srsSender?: string;
  /** The Message-ID header value, if the message has one. */
  messageId?: string;
}

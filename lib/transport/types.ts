import type { Envelope, Recipient } from "../envelope/mod.ts";

/** A message to deliver: its envelope and a way to read its body (again, per attempt). */
export interface OutboundMessage {
  /** The spooled envelope (sender, DSN parameters, body type, size). */
  envelope: Envelope;
  /** Yields the body (CRLF lines, not dot-stuffed); may be called once per host tried. */
  body: () => AsyncIterable<Uint8Array>;
}

/** One SMTP reply from a peer. */
export interface SmtpReply {
  /** Three-digit code. */
  code: number;
  /** Enhanced status code (RFC 3463) when the peer sent one, for example `5.1.1`. */
  enhanced?: string;
  /** Every line's text after the code, joined with a space. */
  text: string;
  /** Each line's text after the code and separator, as received. */
  lines?: string[];
}

/** Who we talked to, for logs and bounces (Exim's DSN_INFO). */
export interface RemoteInfo {
  /** Host name (MX name, smarthost name or the IP). */
  host: string;
  /** IP address connected to. */
  ip: string;
  /** Port connected to. */
  port: number;
  /** First line of the peer's 220 greeting. */
  greeting?: string;
  /** First line of the peer's EHLO (or HELO) reply. */
  heloResponse?: string;
  /** The peer advertised DSN (RFC 3461), so it takes over success notices. */
  dsn?: boolean;
  /** TLS protocol and cipher when STARTTLS succeeded, for example `TLSv1.3:TLS_AES_256_GCM_SHA384`. */
  tls?: string;
  /** The certificate passed the level's checks (verify, DANE). */
  verified?: boolean;
  /** DANE outcome, for example `dane=ok usage=3 depth=0`. */
  dane?: string;
  /** The usages among the host's TLSA records, bit n for usage n (`tls_out_tlsa_usage`). */
  tlsaUsage?: number;
}

/** The outcome of one recipient's delivery attempt. */
export interface RecipientResult {
  /** The recipient address. */
  address: string;
  /** delivered: the peer said 250; deferred: try again later; failed: give up (bounce). */
  status: "delivered" | "deferred" | "failed";
  /** The reply that decided it, when a peer gave one. */
  reply?: SmtpReply;
  /** Our description of what happened, for logs, `queue list` and bounces. */
  diagnostic: string;
  /** The peer, when one was reached. */
  remote?: RemoteInfo;
}

/**
 * A way to deliver messages (chasquid's courier): takes a message and some of its recipients
 * and says, per recipient, delivered, deferred or failed. It never throws for a delivery
 * problem; every failure is a result with its permanence in `status`.
 */
export interface Transport {
  /** The transport's name from `[transport.NAME]`. */
  readonly name: string;
  /** Delivers to the given recipients (all routed to this transport, same domain). */
  deliver(
    message: OutboundMessage,
    recipients: Recipient[],
    opts?: DeliverOptions,
  ): Promise<RecipientResult[]>;
  /** Closes cached connections; with `abort`, cuts deliveries in progress too. */
  close(opts?: { abort?: boolean }): Promise<void>;
}

/** Per-call delivery options. */
export interface DeliverOptions {
  /** Ignore host retry memory (a forced `queue flush`). */
  force?: boolean;
}

/** Formats a reply as `550 5.1.1 text` for diagnostics. */
export function formatReply(r: SmtpReply): string {
  return `${r.code}${r.enhanced ? " " + r.enhanced : ""} ${r.text}`.trimEnd();
}

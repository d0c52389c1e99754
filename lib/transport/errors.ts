import type { RemoteInfo, SmtpReply } from "./types.ts";

/**
 * A failure talking to a peer: connection, protocol, timeout, TLS or a refusing reply.
 * `permanent` is true only when the peer's reply (5xx) or our own checks say retrying the
 * same message cannot help.
 */
export class SmtpClientError extends Error {
  /** True for 5xx and for messages the peer can never take (size, 8BITMIME, SMTPUTF8). */
  readonly permanent: boolean;
  /** The reply that caused it, if any. */
  readonly reply?: SmtpReply;
  /** True when the connection is gone (so it cannot be reused). */
  readonly connectionLost: boolean;
  /** What we learnt about the peer before the failure (greeting, EHLO reply). */
  remote?: RemoteInfo;

  /** Creates the error. */
  constructor(
    message: string,
    opts: { permanent?: boolean; reply?: SmtpReply; connectionLost?: boolean; cause?: unknown } =
      {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "SmtpClientError";
    this.permanent = opts.permanent ?? false;
    this.reply = opts.reply;
    this.connectionLost = opts.connectionLost ?? false;
  }
}
